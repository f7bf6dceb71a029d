// The inbox's sorter, a Web Worker (built to /static/sorter.js): while a
// desk member has the inbox open, it keeps the desks' forward secrecy
// going (docs/forward-secrecy.md):
//
//  1. GET /newsroom/fs/keys. For each desk whose current key generation
//     this device holds, it checks that the signing key the server lists
//     is the one the desk key gives (else it stops, and the page shows a
//     warning: the server, or someone in it, is signing intake keys the
//     desk never made), then makes the intake keys of the days the
//     server says are missing: a fresh identity each, its public half
//     signed, its secret sealed to the desk key, and POSTs them.
//  2. GET /newsroom/fs/unsorted, page by page: each item still under an
//     intake key or the desk key gets its age header rewrapped to its
//     conversation's key (made here, sealed to the desk and the archive,
//     if the conversation has none yet) and the archive's keys, and the
//     source's for what the source reads (replies and their files): the
//     file key is opened here, wrapped again, and only the new header
//     goes back (POST /newsroom/fs/sort). Previews still under an intake
//     key are small age files: their header is rewrapped the same way.
//  3. Waits, and starts again.
//
// The page gives it the desk identities this device unwrapped and the
// CSRF token; it answers with its progress ({state, count}). Nothing it
// opens leaves it but new headers, which hold the same file keys wrapped
// to keys only the desk's members can open.

import { Decrypter } from "age-encryption"
import * as fs from "./fs.js"
import { HybridIdentity, HybridRecipient, headerEnd, rewrap, concat } from "./hybrid.js"

// pageSize is how many items one GET fs/unsorted asks for: small enough
// that the server swaps one page while this worker rewraps the next.
const pageSize = 200
// maxBody keeps a POST fs/sort under the server's 8 MiB.
const maxBody = 6 << 20
// maxKeysPost is pista.MaxIntakeKeys.
const maxKeysPost = 31
// maxWait and minWait bound the pause between two rounds; a short intake
// day (tests) shortens it.
const maxWait = 30_000
const minWait = 2_000

let token = ""
let desks = [] // [{desk (slug), keyId, recipient, identity, id: HybridIdentity}]
let stopped = false
// timing is where a round's time goes (ms): listing, opening and
// wrapping here, the server's sorting (beside the next page's wrapping),
// and waiting for it.
let timing = { list: 0, crypto: 0, sort: 0, wait: 0, previews: 0, previewsSent: 0, previewsListed: 0 }

function say(state, extra = {}) {
  postMessage({ state, ...extra })
}

async function getJSON(path) {
  const resp = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } })
  if (!resp.ok) {
    const err = new Error(`the server answered ${resp.status} for ${path}`)
    err.status = resp.status
    throw err
  }
  return resp.json()
}

async function postJSON(path, body) {
  const resp = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": token },
    body,
  })
  const answer = await resp.json().catch(() => ({}))
  if (!resp.ok) {
    const err = new Error(answer.error || `the server answered ${resp.status} for ${path}`)
    err.status = resp.status
    throw err
  }
  return answer
}

// Keys opened so far, kept while the inbox is open.
const intakeIds = new Map() // intake key ID → {id: HybridIdentity, s: its identity string, keyId: its desk key generation}
const convKeys = new Map() // conversation ID → {recipient, r: HybridRecipient, state, sealed, signature} (checked or made)
const signKeys = new Map() // desk key generation → {seed, publicKey}

function signKeyOf(d) {
  let k = signKeys.get(d.keyId)
  if (!k) signKeys.set(d.keyId, (k = fs.signKey(d.identity)))
  return k
}

// deskKeysOf lists the desk identities of desk (its slug), every
// generation, newest first.
function deskKeysOf(slug) {
  return desks.filter((d) => d.desk === slug).sort((a, b) => b.keyId - a.keyId)
}

// badDesks are the desks whose listed signing key is not the one their
// key gives: nothing of theirs is trusted or sorted (the other desks go
// on).
const badDesks = new Set()

// checkAndMake checks each desk's signing key and makes the missing
// intake keys. It answers the slugs of the desks whose listed signing
// key is not the one their key gives.
async function checkAndMake(info) {
  const bad = []
  for (const d of info.desks || []) {
    const mine = desks.find((k) => k.keyId === d.key_id)
    if (!mine) continue // a generation not wrapped to this device
    const sign = signKeyOf(mine)
    const listed = d.sign_key ? fs.b64decode(d.sign_key) : null
    if ((listed && !fs.sameBytes(listed, sign.publicKey)) || d.recipient !== mine.recipient) {
      badDesks.add(d.id)
      bad.push(d.slug || "")
      continue
    }
    // Only days the server may ask for: today to a month ahead.
    const today = Number(info.day)
    const days = (d.need_days || []).filter((x) => Number.isSafeInteger(x) && x >= today - 1 && x <= today + maxKeysPost).slice(0, maxKeysPost)
    if (days.length === 0) continue
    const made = []
    for (const day of days) made.push(await fs.makeIntakeKey(mine, day, sign))
    try {
      await postJSON("/newsroom/fs/keys", JSON.stringify({
        desk_key_id: d.key_id,
        sign_key: fs.b64encode(sign.publicKey),
        keys: made.map((k) => ({ day: k.day, recipient: k.recipient, signature: fs.b64encode(k.signature), sealed: fs.b64encode(k.sealed) })),
      }))
    } catch (err) {
      if (err.status !== 409) throw err
      // The generation is no longer current, or another member was first
      // with other keys: the next round sees what is there.
    }
  }
  return bad
}

// openIntake opens the intake keys listed that are not open yet.
async function openIntake(info) {
  const live = new Set()
  for (const k of info.intake || []) {
    live.add(k.id)
    if (intakeIds.has(k.id) || !k.sealed) continue
    const slug = deskSlug(info, k.desk_id)
    const gen = desks.filter((d) => d.keyId === k.desk_key_id)
    const ids = (gen.length ? gen : deskKeysOf(slug)).map((d) => d.id)
    if (ids.length === 0) continue
    try {
      const s = await fs.open(fs.b64decode(k.sealed), ids)
      const id = new HybridIdentity(s)
      if ((await id.recipient()) !== k.recipient) continue // not the key it claims to be
      intakeIds.set(k.id, { id, s, keyId: gen.length ? k.desk_key_id : null })
    } catch {
      // sealed to a key this device lacks
    }
  }
  for (const id of intakeIds.keys()) if (!live.has(id)) intakeIds.delete(id)
}

function deskSlug(info, deskID) {
  const d = (info.desks || []).find((x) => x.id === deskID)
  return d ? d.slug : ""
}

// archiveRecipients are the archive's keys: what the search index's
// segments are encrypted to, after the desk's key.
async function archiveRecipients() {
  const s = await getJSON("/newsroom/search.json")
  const d = (s.desks || [])[0]
  return d && Array.isArray(d.recipients) ? d.recipients.slice(1) : []
}

// decrypters are made once per key set.
const decrypters = new Map()

function decrypterOf(key, ids) {
  let d = decrypters.get(key)
  if (!d) {
    d = new Decrypter()
    for (const id of ids) d.addIdentity(id)
    decrypters.set(key, d)
  }
  return d
}

// keysFor answers the keys that open what is sealed as sealing says:
// {name, strings (the identities), d (a Decrypter of them)}, or null.
function keysFor(info, sealing, intakeKey, deskID) {
  if (sealing === "intake") {
    const k = intakeIds.get(intakeKey)
    // Only an intake key of one of the desk's generations: otherwise a
    // lying server could have a tip of one desk sorted into a
    // conversation of another.
    if (!k || !deskKeysOf(deskSlug(info, deskID)).some((g) => g.keyId === k.keyId)) return null
    const name = "i" + intakeKey
    return { name, strings: [k.s], d: decrypterOf(name, [k.id]) }
  }
  // Under the desk key: any generation of the conversation's desk.
  const ks = deskKeysOf(deskSlug(info, deskID))
  if (ks.length === 0) return null
  const name = "d" + deskID + ":" + ks.map((k) => k.keyId).join(",")
  return { name, strings: ks.map((k) => k.identity), d: decrypterOf(name, ks.map((k) => k.id)) }
}

// Helpers: this same script, started from here, rewraps headers on the
// device's other cores (pool.rewrap); without them (one core, or a
// browser without workers in workers) this worker does it itself.
class Pool {
  constructor(n) {
    this.helpers = []
    this.jobs = new Map()
    this.next = 1
    for (let i = 0; i < n; i++) {
      try {
        const w = new Worker(self.location.href)
        const h = { w, known: new Set(), busy: 0 }
        w.onmessage = (e) => this.done(h, e.data || {})
        w.onerror = () => this.fail(h)
        this.helpers.push(h)
      } catch {
        break
      }
    }
  }

  // rewrap answers the new headers of headers (Uint8Arrays), opened with
  // keys (keysFor's) and wrapped to recipients (strings).
  rewrap(keys, recipients, headers) {
    const live = this.helpers.filter((h) => !h.dead)
    if (live.length === 0) return this.local(keys, recipients, headers)
    const h = live.reduce((a, b) => (b.busy < a.busy ? b : a))
    const job = this.next++
    const msg = { type: "rewrap", job, name: keys.name, recipients, headers }
    if (!h.known.has(keys.name)) {
      msg.identities = keys.strings
      h.known.add(keys.name)
    }
    h.busy++
    return new Promise((resolve, reject) => {
      this.jobs.set(job, { h, resolve, reject, keys, recipients, headers })
      h.w.postMessage(msg)
    })
  }

  done(h, m) {
    const j = this.jobs.get(m.job)
    if (!j) return
    this.jobs.delete(m.job)
    h.busy--
    if (Array.isArray(m.headers)) j.resolve(m.headers)
    else j.reject(new Error(m.error || "the helper failed"))
  }

  // fail: a helper that broke; its jobs are done here.
  fail(h) {
    h.dead = true
    h.w.terminate()
    for (const [job, j] of this.jobs) {
      if (j.h !== h) continue
      this.jobs.delete(job)
      this.local(j.keys, j.recipients, j.headers).then(j.resolve, j.reject)
    }
  }

  async local(keys, recipients, headers) {
    const rs = recipients.map(recipientOf)
    const out = []
    for (const h of headers) out.push(await rewrap(h, keys.d, rs))
    return out
  }
}

let pool = null

const recipientObjects = new Map()
function recipientOf(s) {
  let r = recipientObjects.get(s)
  if (!r) recipientObjects.set(s, (r = new HybridRecipient(s)))
  return r
}

// Conversation keys as this sorter knows them (convKeys), with a state:
//   "set"     the server has it: checked (opened with the desk's key to
//             the recipient the server names) or sent and accepted;
//   "new"     made here, not sent yet: its sealed secret goes with the
//             first body that has an item of its conversation;
//   "sending" in a body the server has not answered yet.
// An item wrapped to a key is only sent in the body that carries the key
// or once the key is set: a key another sorter beat would leave it
// unreadable.

// conversationKey answers the key items of conv are sorted to, or null.
async function conversationKey(info, conv, archive) {
  const known = convKeys.get(conv.id)
  if (known && conv.key_recipient === known.recipient) {
    known.state = "set" // the server has it
    return known
  }
  if (known && conv.key_recipient === "") return known
  const slug = deskSlug(info, conv.desk_id)
  const ks = deskKeysOf(slug)
  if (conv.key_recipient) {
    // Only a key this device can open, and that is the one the server
    // names: never wrap a file key to a recipient the server chose.
    if (!conv.key || ks.length === 0) return null
    try {
      const s = await fs.open(fs.b64decode(conv.key), ks.map((k) => k.id))
      if ((await new HybridIdentity(s).recipient()) !== conv.key_recipient) return null
    } catch {
      return null
    }
    // And only a key one of the desk's keys signed: the server can seal a
    // key of its own to the desk's public key, not sign it.
    const sig = conv.key_signature ? fs.b64decode(conv.key_signature) : null
    if (!ks.some((k) => fs.verifyConversationKey(signKeyOf(k).publicKey, k.recipient, conv.id, conv.key_recipient, sig))) return null
    const k = { recipient: conv.key_recipient, r: new HybridRecipient(conv.key_recipient), state: "set" }
    convKeys.set(conv.id, k)
    return k
  }
  // A new key is sealed to the desk's current key only if this device
  // holds it (the recipient it gives, not only the server's word).
  const desk = (info.desks || []).find((d) => d.id === conv.desk_id)
  const current = desk && ks.find((k) => k.keyId === desk.key_id && k.recipient === desk.recipient)
  if (!current) return null
  const k = await fs.newKey()
  const sealed = await fs.seal(k.identity, [current.recipient, ...archive])
  const signature = fs.signConversationKey(signKeyOf(current), current.recipient, conv.id, k.recipient)
  const made = { recipient: k.recipient, r: new HybridRecipient(k.recipient), sealed, signature, state: "new" }
  convKeys.set(conv.id, made)
  return made
}

// stanzas counts the recipient stanzas of an age header.
function stanzas(header) {
  const text = new TextDecoder().decode(header)
  return text.split("\n-> ").length - 1
}

// forSource: what the source reads too (a reply, a reply's file).
function forSource(it) {
  return it.kind === "reply" || (it.kind === "file" && Number(it.author) > 0)
}

// rewrapPage rewraps a page's items and previews: entries {conversation,
// key, kind: "item"|"preview", json}, and how many failed.
async function rewrapPage(info, archive, page, previews) {
  const convs = new Map((page.conversations || []).map((c) => [c.id, c]))
  const keyPromises = new Map()
  const keyOf = (id) => {
    let p = keyPromises.get(id)
    if (!p) {
      const c = convs.get(id)
      p = c ? conversationKey(info, c, archive).catch(() => null) : Promise.resolve(null)
      keyPromises.set(id, p)
    }
    return p
  }
  const entries = []
  let failed = 0
  const one = async (it) => {
    try {
      const c = convs.get(it.conversation)
      if (badDesks.has(c ? c.desk_id : it.desk_id)) {
        failed++
        return
      }
      const k = await keyOf(it.conversation)
      const keys = keysFor(info, it.sealing, it.intake_key, c ? c.desk_id : it.desk_id)
      if (!k || !keys) {
        failed++
        return
      }
      const rs = [k.recipient, ...archive]
      if (forSource(it)) {
        // The server's word (kind, author) is not enough: an item under an
        // intake key is the source's own, and a reply under the desk key
        // already carries a stanza besides the desk's and the archive's.
        // Otherwise a lying server could have a source's message wrapped
        // to a key it names as the source's.
        if (!c || !c.source_recipient || it.sealing === "intake" || stanzas(fs.b64decode(it.header)) < 2 + archive.length) {
          failed++
          return
        }
        rs.push(c.source_recipient)
      }
      const hs = [fs.b64decode(it.header)]
      if (it.meta_header) hs.push(fs.b64decode(it.meta_header))
      const [header, meta] = await pool.rewrap(keys, rs, hs)
      entries.push({ conversation: it.conversation, key: k, kind: "item", json: { id: it.id, header: fs.b64encode(header), meta_header: meta ? fs.b64encode(meta) : null } })
    } catch {
      failed++ // not for a key of this device, or damaged
    }
  }
  const preview = async (p) => {
    try {
      const pc = convs.get(p.conversation)
      if (pc && badDesks.has(pc.desk_id)) return
      const k = await keyOf(p.conversation)
      const keys = pc ? keysFor(info, "intake", p.intake_key, pc.desk_id) : null
      if (!k || !keys) return
      const file = fs.b64decode(p.preview)
      const n = headerEnd(file)
      if (n < 0) return
      const [header] = await pool.rewrap(keys, [k.recipient, ...archive], [file.slice(0, n)])
      entries.push({ conversation: p.conversation, key: k, kind: "preview", json: { conversation: p.conversation, intake_key: p.intake_key, preview: fs.b64encode(concat(header, file.subarray(n))) } })
    } catch {
      // not for a key of this device
    }
  }
  await Promise.all([...(page.items || []).map(one), ...previews.map(preview)])
  // Keys made for conversations none of whose items went: forgotten.
  for (const [id, p] of keyPromises) {
    const k = await p
    if (k && k.state === "new" && !entries.some((e) => e.key === k)) convKeys.delete(id)
  }
  return { entries, failed }
}

// bodies splits entries into the bodies of POST fs/sort, each under the
// server's bound, each carrying the new keys its entries are the first
// to need.
function bodies(entries) {
  const out = []
  let at = 0
  while (at < entries.length) {
    const body = { keys: [], entries: [] }
    let size = 64
    while (at < entries.length) {
      const e = entries[at]
      let add = JSON.stringify(e.json).length + 2
      const withKey = e.key.state === "new"
      if (withKey) add += e.key.sealed.length * 1.4 + 2048
      if (size + add > maxBody && body.entries.length > 0) break
      if (body.entries.filter((x) => x.kind === "item").length >= 1000) break
      if (withKey) {
        e.key.state = "sending"
        e.key.body = body
        body.keys.push(e)
      }
      body.entries.push(e)
      size += add
      at++
    }
    out.push(body)
  }
  return out
}

// inFlight bounds the bodies posted at once: the server writes one
// body's objects while it swaps another's.
const inFlight = 2

// send posts one body once the bodies that carry keys its entries need
// are answered, keeping only the entries whose key is set or goes with
// it. It answers {sorted, conflicts, dropped}.
async function send(body) {
  const deps = new Set()
  for (const e of body.entries) if (e.key.state === "sending" && e.key.body && e.key.body !== body && e.key.body.done) deps.add(e.key.body.done)
  if (deps.size > 0) await Promise.allSettled([...deps])
  const entries = body.entries.filter((e) => e.key.state === "set" || e.key.body === body)
  const dropped = body.entries.length - entries.length
  if (entries.length === 0) return { sorted: 0, conflicts: 0, dropped }
  const json = {
    keys: body.keys.map((e) => ({
      conversation: e.conversation,
      recipient: e.key.recipient,
      key: fs.b64encode(e.key.sealed),
      signature: fs.b64encode(e.key.signature),
    })),
    items: entries.filter((e) => e.kind === "item").map((e) => e.json),
    previews: entries.filter((e) => e.kind === "preview").map((e) => e.json),
  }
  let answer
  try {
    answer = await postJSON("/newsroom/fs/sort", JSON.stringify(json))
  } catch (err) {
    for (const e of body.keys) {
      convKeys.delete(e.conversation) // unknown: loaded again next time
      e.key.body = null
    }
    throw err
  }
  const lost = new Set(Array.isArray(answer.conflicts) ? answer.conflicts : [])
  for (const e of body.keys) {
    if (lost.has(e.conversation)) convKeys.delete(e.conversation) // another sorter's key won: loaded next time
    else e.key.state = "set"
    e.key.body = null
  }
  return { sorted: Number(answer.sorted) || 0, previews: Number(answer.previews) || 0, sent: json.previews.length, conflicts: lost.size, dropped }
}

// sortPass sorts everything listed, page by page: while the server
// swaps one page's objects, this worker rewraps the next. It answers
// {sorted, conflicts, failed}.
async function sortPass(info, archive) {
  const triedPreviews = new Set()
  let after = 0
  let seen = 0
  const r = { sorted: 0, conflicts: 0, failed: 0 }
  const running = new Set()
  let failure = null
  // post starts a body's send once fewer than inFlight are running.
  const post = async (b) => {
    const t0 = performance.now()
    while (running.size >= inFlight) await Promise.race(running)
    timing.wait += performance.now() - t0
    const started = performance.now()
    const p = send(b).then(
      (x) => {
        r.sorted += x.sorted
        r.conflicts += x.conflicts + x.dropped
        timing.previews += x.previews || 0
        timing.previewsSent += x.sent || 0
      },
      (err) => {
        failure = failure || err
      },
    )
    b.done = p
    posted++
    const tracked = p.finally(() => {
      running.delete(tracked)
      timing.sort += performance.now() - started
    })
    running.add(tracked)
  }
  const drain = async () => {
    const t0 = performance.now()
    while (running.size > 0) await Promise.race(running)
    timing.wait += performance.now() - t0
    if (failure) throw failure
  }
  // posted counts the bodies posted; a listing asked before the last of
  // them was answered may miss what they sorted (and so the previews
  // after the first hundred): it is asked again.
  let posted = 0
  const list = (a) => {
    const asked = posted
    const p = getJSON(`/newsroom/fs/unsorted?after=${a}&limit=${pageSize}`).then((page) => ({ page, asked }))
    p.catch(() => {})
    return p
  }
  let listing = list(after)
  try {
    for (let pages = 0; pages < 100_000; pages++) {
      if (failure) throw failure
      let t0 = performance.now()
      const { page, asked } = await listing
      timing.list += performance.now() - t0
      // The next page is listed while this one is rewrapped.
      listing = page.next ? list(page.next) : null
      const items = page.items || []
      const previews = (page.previews || []).filter((p) => !triedPreviews.has(p.conversation))
      if (items.length === 0 && previews.length === 0) {
        if (asked === posted && running.size === 0) break
        await drain()
        listing = list(after)
        continue
      }
      for (const p of previews) triedPreviews.add(p.conversation)
      timing.previewsListed += previews.length
      seen += items.length + previews.length
      say("sorting", { count: seen })
      t0 = performance.now()
      const { entries, failed } = await rewrapPage(info, archive, page, previews)
      timing.crypto += performance.now() - t0
      r.failed += failed
      for (const b of bodies(entries)) await post(b)
      if (page.next) {
        after = page.next
        continue
      }
      // Past the last item: again, once what is sent is sorted, while
      // the listing has previews not tried yet (it lists the first
      // hundred still under an intake key).
      await drain()
      listing = list(after)
    }
  } finally {
    await drain()
  }
  return r
}

async function round() {
  const started = performance.now()
  timing = { list: 0, crypto: 0, sort: 0, wait: 0, previews: 0, previewsSent: 0, previewsListed: 0 }
  const info = await getJSON("/newsroom/fs/keys")
  const bad = await checkAndMake(info)
  await openIntake(info)
  const archive = await archiveRecipients()
  let total = 0
  for (let pass = 0; pass < 3; pass++) {
    const r = await sortPass(info, archive)
    total += r.sorted
    if (r.conflicts === 0) break
  }
  if (bad.length > 0) say("badsign", { desk: bad.join(", ") })
  else say("sorted", { count: total, ms: Math.round(performance.now() - started), timing })
  return info
}

function pause(info) {
  const period = Number(info && info.period_seconds) * 1000
  const wait = period > 0 ? Math.min(maxWait, Math.max(minWait, period / 8)) : maxWait
  return new Promise((r) => setTimeout(r, wait))
}

async function loop() {
  while (!stopped) {
    let info = null
    try {
      info = await round()
    } catch (err) {
      if (err && err.status === 404) {
        // No forward secrecy on this server (or this journalist has no
        // desk): nothing to do.
        say("off")
        return
      }
      say("failed")
    }
    if (stopped) return
    await pause(info)
  }
}

let started = false

onmessage = (e) => {
  const m = e.data || {}
  if (m.type === "rewrap") {
    helperRewrap(m)
    return
  }
  if (m.type !== "start" || started) return
  started = true
  token = String(m.token || "")
  const cores = Number(self.navigator && navigator.hardwareConcurrency) || 1
  pool = new Pool(Math.min(4, cores > 1 ? cores : 0))
  start(Array.isArray(m.desks) ? m.desks : [])
}

// As a helper: the key sets it was given, by name.
const helperKeys = new Map()

async function helperRewrap(m) {
  try {
    let d = helperKeys.get(m.name)
    if (!d) {
      if (!Array.isArray(m.identities)) throw new Error("unknown keys")
      d = new Decrypter()
      for (const s of m.identities) d.addIdentity(new HybridIdentity(String(s)))
      helperKeys.set(m.name, d)
    }
    const rs = m.recipients.map(recipientOf)
    const out = []
    for (const h of m.headers) out.push(await rewrap(h, d, rs))
    postMessage({ job: m.job, headers: out }, out.map((h) => h.buffer))
  } catch (err) {
    postMessage({ job: m.job, error: String((err && err.message) || err) })
  }
}

// start takes the desk identities, each with the recipient it gives (not
// the one the server listed), and starts the rounds.
async function start(list) {
  for (const d of list) {
    try {
      const id = new HybridIdentity(String(d.identity))
      desks.push({ desk: String(d.desk), keyId: Number(d.keyId), identity: String(d.identity).trim(), id, recipient: await id.recipient() })
    } catch {
      // not a hybrid identity: not a desk key this sorter uses
    }
  }
  if (desks.length > 0) loop()
}
