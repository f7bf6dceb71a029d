// The desks' search index, built, encrypted and searched in the browser.
//
// A desk's index is a list of segments the server stores as opaque age
// files, encrypted here to the desk's current key and the archive keys.
// Inside the age file, a segment is gzip of:
//
//   "PISTAIX1"
//   varint n, n bytes of JSON: {"v":1,"desk":SLUG,"gen":G,"cursor":ITEM,"convs":N,"words":M}
//   N conversation IDs of 26 ASCII characters, sorted
//   M words, sorted (JavaScript's string order), each:
//     varint length, the word in UTF-8,
//     varint count, varint byte length of what follows,
//     count varints: the gaps between the word's conversations' positions
//     in the table above, minus one (the first: its position)
//
// cursor is the desk's newest item (the server's opaque item ID) that the
// index covers with everything before it: a browser resumes indexing
// after the cursor of the segment with the highest gen, and a segment it
// uploads gets gen one higher. Two browsers indexing at once make
// duplicates, never holes; a merge (compaction) keeps the highest gen of
// its parts and that part's cursor.
//
// Words are folded (fold): lowercase, compatibility-decomposed, combining
// marks removed (é → e, ñ → n; Arabic short vowels, shadda and the hamza
// on alef: أ إ آ → ا), Arabic ta marbuta and alef maqsura folded (ة → ه,
// ى → ي), tatweel removed. Arabic words starting with the article ال are
// also indexed without it.

import { Encrypter } from "age-encryption"

const MAGIC = "PISTAIX1"
const ID_LEN = 26
const ID_RE = /^[a-z2-7]{26}$/
export const MIN_WORD = 2
export const MAX_WORD = 64

const enc = new TextEncoder()
const dec = new TextDecoder()

// fold is text as the index and the search compare it.
export function fold(text) {
  return text
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[\p{M}\u0640]/gu, "")
    .replace(/\u0671/g, "\u0627")
    .replace(/\u0629/g, "\u0647")
    .replace(/\u0649/g, "\u064a")
}

// tokens are the folded words of text, in order, within the length bounds.
export function tokens(text) {
  return fold(text)
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length >= MIN_WORD && w.length <= MAX_WORD)
}

// words is the set of what text is indexed under.
export function words(text) {
  const out = new Set()
  for (const w of tokens(text)) {
    out.add(w)
    if (w.length > 4 && w.startsWith("\u0627\u0644")) out.add(w.slice(2))
  }
  return out
}

// parseQuery reads the search box: every term must match; a term typed
// with a trailing * matches words that start with it.
export function parseQuery(q) {
  const terms = []
  for (const raw of q.split(/\s+/)) {
    const ts = tokens(raw)
    ts.forEach((word, i) => terms.push({ word, prefix: raw.endsWith("*") && i === ts.length - 1 }))
  }
  return terms
}

class Writer {
  constructor(n = 1 << 16) {
    this.buf = new Uint8Array(n)
    this.len = 0
  }
  grow(n) {
    if (this.len + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.len + n) size *= 2
    const b = new Uint8Array(size)
    b.set(this.buf.subarray(0, this.len))
    this.buf = b
  }
  varint(x) {
    this.grow(10)
    while (x >= 0x80) {
      this.buf[this.len++] = (x & 0x7f) | 0x80
      x = Math.floor(x / 128)
    }
    this.buf[this.len++] = x
  }
  bytes(b) {
    this.grow(b.length)
    this.buf.set(b, this.len)
    this.len += b.length
  }
  view() {
    return this.buf.subarray(0, this.len)
  }
}

function readVarint(b, st) {
  let x = 0
  let mul = 1
  for (let i = 0; i < 8; i++) {
    if (st.off >= b.length) throw new Error("a truncated index segment")
    const c = b[st.off++]
    x += (c & 0x7f) * mul
    if (c < 0x80) return x
    mul *= 128
  }
  throw new Error("a malformed index segment")
}

// encodeSegment turns index (Map word → Set of conversation IDs) into a
// segment's plaintext (before gzip), with header's desk, gen and cursor.
export function encodeSegment(index, header) {
  const all = new Set()
  for (const set of index.values()) for (const c of set) if (ID_RE.test(c)) all.add(c)
  const ids = [...all].sort()
  const pos = new Map(ids.map((c, i) => [c, i]))
  const entries = []
  for (const word of [...index.keys()].sort()) {
    const list = []
    for (const c of index.get(word)) {
      const p = pos.get(c)
      if (p !== undefined) list.push(p)
    }
    if (list.length > 0) entries.push([word, list.sort((a, b) => a - b)])
  }
  const w = new Writer(1 << 20)
  w.bytes(enc.encode(MAGIC))
  const h = enc.encode(JSON.stringify({ v: 1, desk: header.desk, gen: header.gen, cursor: header.cursor, convs: ids.length, words: entries.length }))
  w.varint(h.length)
  w.bytes(h)
  for (const c of ids) w.bytes(enc.encode(c))
  const p = new Writer()
  for (const [word, list] of entries) {
    p.len = 0
    let prev = -1
    for (const x of list) {
      p.varint(x - prev - 1)
      prev = x
    }
    const wb = enc.encode(word)
    w.varint(wb.length)
    w.bytes(wb)
    w.varint(list.length)
    w.varint(p.len)
    w.bytes(p.view())
  }
  return w.view().slice()
}

// Segment is a decoded segment: its header, and a directory of its words
// whose conversations are decoded only when searched.
export class Segment {
  constructor(bytes) {
    if (dec.decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) throw new Error("not an index segment")
    const st = { off: MAGIC.length }
    const hl = readVarint(bytes, st)
    this.header = JSON.parse(dec.decode(bytes.subarray(st.off, st.off + hl)))
    st.off += hl
    const n = this.header.convs
    if (!Number.isSafeInteger(n) || n < 0 || st.off + n * ID_LEN > bytes.length) throw new Error("a malformed index segment")
    this.bytes = bytes
    this.n = n
    this.idsAt = st.off
    st.off += n * ID_LEN
    this.dir = new Map() // word → [offset of postings, count]
    while (st.off < bytes.length) {
      const wl = readVarint(bytes, st)
      const word = dec.decode(bytes.subarray(st.off, st.off + wl))
      st.off += wl
      const count = readVarint(bytes, st)
      const len = readVarint(bytes, st)
      if (st.off + len > bytes.length) throw new Error("a truncated index segment")
      this.dir.set(word, [st.off, count])
      st.off += len
    }
  }
  get gen() {
    return Number(this.header.gen) || 0
  }
  get cursor() {
    return Number(this.header.cursor) || 0
  }
  // id is the conversation ID at position i of the table.
  id(i) {
    const at = this.idsAt + i * ID_LEN
    return String.fromCharCode.apply(null, this.bytes.subarray(at, at + ID_LEN))
  }
  // position finds a conversation ID in the sorted table: -1 if absent.
  position(c) {
    let lo = 0
    let hi = this.n - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const s = this.id(mid)
      if (s === c) return mid
      if (s < c) lo = mid + 1
      else hi = mid - 1
    }
    return -1
  }
  // postings are the sorted table positions of the conversations of a
  // directory entry.
  postings(entry) {
    const [off, count] = entry
    const out = new Int32Array(count)
    const st = { off }
    let prev = -1
    for (let i = 0; i < count; i++) {
      prev += readVarint(this.bytes, st) + 1
      out[i] = prev
    }
    return out
  }
  // matching lists the directory entries a term matches.
  matching(term) {
    if (!term.prefix) {
      const e = this.dir.get(term.word)
      return e ? [e] : []
    }
    const out = []
    for (const [w, e] of this.dir) if (w.startsWith(term.word)) out.push(e)
    return out
  }
  // entries yields [word, conversation IDs] for a merge.
  *entries() {
    for (const [word, e] of this.dir) {
      yield [word, Array.from(this.postings(e), (i) => this.id(i))]
    }
  }
}

// gzip and gunzip use the browser's own streams.
export async function gzip(bytes) {
  const s = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"))
  return new Uint8Array(await new Response(s).arrayBuffer())
}

export async function gunzip(bytes) {
  const s = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))
  return new Uint8Array(await new Response(s).arrayBuffer())
}

// seal is a segment's age file: gzip, then age to the recipients.
export async function seal(plain, recipients) {
  const e = new Encrypter()
  for (const r of recipients) e.addRecipient(r)
  return e.encrypt(await gzip(plain))
}

// open decrypts and decodes a segment's age file.
export async function open(decrypter, sealed) {
  return new Segment(await gunzip(await decrypter.decrypt(sealed)))
}

// Searcher searches one desk's segments and what is indexed but not yet
// in a segment (live: Map word → Set of IDs). A conversation is in one
// segment, unless it got items after it was indexed: such conversations
// (found by merging the segments' sorted tables, and those of live) are
// checked one by one across segments; every other is matched inside its
// segment by intersecting sorted position lists, so that a word in a
// million conversations costs a pass over its postings, not a million
// strings.
export class Searcher {
  constructor(segments) {
    this.segments = segments
    this.multi = new Map() // ID → [[segment, position]…]
    this.flags = segments.map((seg) => new Uint8Array(seg.n))
    this.liveOnly = new Set()
    if (segments.length > 1) this.findShared()
  }
  findShared() {
    // A k-way merge of the sorted tables, comparing bytes.
    const segs = this.segments
    const at = segs.map(() => 0)
    const cmp = (a, i, b, j) => {
      const x = segs[a].bytes, y = segs[b].bytes
      const p = segs[a].idsAt + i * ID_LEN, q = segs[b].idsAt + j * ID_LEN
      for (let k = 0; k < ID_LEN; k++) if (x[p + k] !== y[q + k]) return x[p + k] - y[q + k]
      return 0
    }
    for (;;) {
      let min = -1
      for (let s = 0; s < segs.length; s++) {
        if (at[s] < segs[s].n && (min < 0 || cmp(s, at[s], min, at[min]) < 0)) min = s
      }
      if (min < 0) return
      const same = []
      for (let s = 0; s < segs.length; s++) {
        if (at[s] < segs[s].n && (s === min || cmp(s, at[s], min, at[min]) === 0)) same.push([s, at[s]])
      }
      if (same.length > 1) {
        this.multi.set(segs[min].id(at[min]), same)
        for (const [s, i] of same) this.flags[s][i] = 1
      }
      for (const [s] of same) at[s]++
    }
  }
  // addLive records that conversation c is in live now.
  addLive(c) {
    if (this.multi.has(c) || this.liveOnly.has(c)) return
    const locs = []
    this.segments.forEach((seg, s) => {
      const p = seg.position(c)
      if (p >= 0) locs.push([s, p])
    })
    if (locs.length === 0) {
      this.liveOnly.add(c)
      return
    }
    this.multi.set(c, locs)
    for (const [s, i] of locs) this.flags[s][i] = 1
  }
  // search answers {count, ids: the first max IDs} of the conversations
  // that match every term.
  search(terms, live, max) {
    const out = { count: 0, ids: [] }
    if (terms.length === 0) return out
    const hit = (c) => {
      out.count++
      if (out.ids.length < max) out.ids.push(c)
    }
    // lists[t][s]: the sorted positions of term t in segment s, or null.
    const lists = terms.map((term) =>
      this.segments.map((seg) => {
        const es = seg.matching(term)
        if (es.length === 0) return null
        if (es.length === 1) return seg.postings(es[0])
        const all = new Set()
        for (const e of es) for (const i of seg.postings(e)) all.add(i)
        return Int32Array.from(all).sort()
      }),
    )
    this.segments.forEach((seg, s) => {
      const ls = lists.map((l) => l[s])
      if (ls.some((l) => l === null)) return
      ls.sort((a, b) => a.length - b.length)
      const flags = this.flags[s]
      for (const p of intersect(ls)) {
        if (flags[p]) continue
        out.count++
        if (out.ids.length < max) out.ids.push(seg.id(p))
      }
    })
    const liveHas = (c, term) => {
      if (!term.prefix) {
        const set = live.get(term.word)
        return !!set && set.has(c)
      }
      for (const [w, set] of live) if (w.startsWith(term.word) && set.has(c)) return true
      return false
    }
    for (const [c, locs] of this.multi) {
      if (terms.every((term, t) => liveHas(c, term) || locs.some(([s, p]) => lists[t][s] && binaryHas(lists[t][s], p)))) hit(c)
    }
    for (const c of this.liveOnly) if (terms.every((term) => liveHas(c, term))) hit(c)
    return out
  }
}

// intersect is the positions in every sorted list (shortest first).
function intersect(ls) {
  let cur = ls[0]
  for (let k = 1; k < ls.length && cur.length > 0; k++) {
    const other = ls[k]
    const next = []
    let j = 0
    for (let i = 0; i < cur.length; i++) {
      const x = cur[i]
      while (j < other.length && other[j] < x) j++
      if (j === other.length) break
      if (other[j] === x) next.push(x)
    }
    cur = next
  }
  return cur
}

function binaryHas(list, x) {
  let lo = 0
  let hi = list.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if (list[mid] === x) return true
    if (list[mid] < x) lo = mid + 1
    else hi = mid - 1
  }
  return false
}

// merge is the live map of segments' contents, for a compaction.
export function merge(segments) {
  const m = new Map()
  for (const seg of segments) {
    for (const [word, ids] of seg.entries()) {
      let set = m.get(word)
      if (!set) m.set(word, (set = new Set()))
      for (const c of ids) set.add(c)
    }
  }
  return m
}

