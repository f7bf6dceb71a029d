// Reading, replying and searching in the browser.
//
// The conversation page (#conversation[data-conversation]): each item's
// age file is fetched as it is stored and decrypted here, with every
// generation of the desk keys unwrapped on this device (keys.js). Text is
// shown as text (textContent, never HTML). A file shows its decrypted
// name, type, exact size (files are padded inside their encryption: the
// plaintext is cut to the size in its name-and-type object) and what the
// metadata scrubber did; images and PDFs are previewed in a sandboxed
// frame without scripts, from a blob: URL; any file can be downloaded
// decrypted. Without the key on this device the page says so, and the
// encrypted downloads stay as they are.
//
// The reply form (form[data-seal-reply]): the reply is encrypted here to
// the page's data-recipients (the source, the desk's current key, the
// archive) and sent as an age file; the server never sees it in plain
// text. If that fails, nothing is sent: there is no falling back to the
// form the server encrypts. Files chosen go with it, encrypted here too
// (replyfiles.js).
//
// The inbox's search (form#search[data-search-index]): the words typed
// stay in this page. The desks' search indexes are downloaded, decrypted
// and searched here (searchindex.js), and kept up to date by this page:
// what is newer than an index's cursor is decrypted here and uploaded as
// a new encrypted segment.

import { Encrypter } from "age-encryption"
// keys.js (the login's module) unwraps the journalist's identity and
// desk keys on this device.
import * as keys from "./keys.js"
import { notes, scrubFile } from "../scrub/scrub.js"
import * as idx from "./searchindex.js"
import * as replyFiles from "./replyfiles.js"
import { setupTransfer } from "./transfer.js"

// previewTypes are shown in the sandboxed frame; everything else is only
// downloaded.
const previewTypes = new Set(["image/jpeg", "image/png", "image/webp", "image/gif", "application/pdf"])

// maxPreview bounds what is decrypted without being asked: larger files
// wait for a click.
const maxPreview = 20 << 20

// maxSearchText bounds a text item decrypted for the search.
const maxSearchText = 2 << 20

function msg(el, name, vars = {}) {
  let s = el.dataset["msg" + name] || ""
  for (const [k, v] of Object.entries(vars)) s = s.replaceAll("{" + k + "}", String(v))
  return s
}

async function fetchBytes(url, signal) {
  const resp = await fetch(url, { credentials: "same-origin", signal })
  if (!resp.ok) throw new Error(`the server answered ${resp.status}`)
  return new Uint8Array(await resp.arrayBuffer())
}


function el(tag, props = {}, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(props)) {
    if (k === "text") e.textContent = v
    else e.setAttribute(k, v)
  }
  e.append(...children)
  return e
}

// scrubView says what happened to a file's hidden metadata before it was
// encrypted: who removed it (the server, the source's browser, pista
// submit, the e-mail intake) and what was found, or why it was not, and
// what the source chose. It says the source chose to keep the metadata
// only when the report says so: a file without a report was encrypted on
// the source's device by an app or an older page, and nobody scrubbed it.
function scrubView(root, scrub) {
  if (!scrub || typeof scrub !== "object") {
    return el("p", { class: "hint warning", "data-scrub-report": "no-report", text: msg(root, "Noreport") })
  }
  if (scrub.choice === "keep") {
    return el("p", { class: "hint warning", "data-scrub-report": "kept", text: msg(root, "Keptchosen") })
  }
  const who = { browser: "Bybrowser", "pista-submit": "Bysubmit", "email-intake": "Byemail" }[scrub.by] || "Byserver"
  const by = msg(root, who)
  const found = Array.isArray(scrub.found) ? scrub.found.join(", ") : ""
  if (scrub.scrubbed) {
    return el("p", { class: "hint", "data-scrub-report": "scrubbed",
      text: found ? msg(root, "Scrubbedby", { who: by, found }) : msg(root, "Cleanby", { who: by }) })
  }
  // Stored as sent: too complex to scrub within the budget, a format the
  // scrubber does not know, unreadable, or the scrubber did not load.
  let reason = "unreadable"
  if (scrub.too_complex) reason = scrub.note === notes.tooLarge ? "toolarge" : "toocomplex"
  else if (scrub.note === notes.unknown) reason = "unknown"
  else if (scrub.note === notes.notLoaded) reason = "notloaded"
  const why = msg(root, "Why" + reason)
  return el("p", { class: "hint warning", "data-scrub-report": reason === "toocomplex" ? "too-complex" : reason,
    text: msg(root, "Notscrubbedby", { who: by, why }) })
}

// fileView shows a file item's name, type, size and scrub report, and
// its preview and download.
function fileView(root, li, plain, meta, contentURL) {
  const size = typeof meta.size === "number" ? meta.size : null
  const name = typeof meta.name === "string" && meta.name !== "" ? meta.name : "file"
  const type = typeof meta.type === "string" ? meta.type : ""
  const dl = el("dl", { class: "file-meta" })
  dl.append(el("dt", { text: msg(root, "Name") }), el("dd", { text: name }))
  dl.append(el("dt", { text: msg(root, "Type") }), el("dd", { text: type || "—" }))
  if (size !== null) {
    dl.append(el("dt", { text: msg(root, "Size") }), el("dd", { text: msg(root, "Bytes", { n: size.toLocaleString() }) }))
  }
  if (typeof meta.question === "string" && meta.question !== "") {
    // The file answers one of the desk's questions (see the answers).
    dl.append(el("dt", { text: msg(root, "Question") }), el("dd", { text: meta.question }))
  }
  plain.append(dl)
  plain.append(scrubView(root, meta.scrub))

  let blob = null
  const content = async () => {
    if (!blob) {
      const d = await keys.decrypterFor(li)
      if (!d) throw new Error("no key")
      let bytes = await d.decrypt(await fetchBytes(contentURL))
      if (size !== null && size <= bytes.length) bytes = bytes.subarray(0, size)
      // The type is only trusted for the preview's list; a download is
      // always an opaque blob.
      blob = new Blob([bytes], { type: previewTypes.has(type) ? type : "application/octet-stream" })
    }
    return blob
  }
  const actions = el("p", { class: "file-actions" })
  const download = el("button", { type: "button", text: msg(root, "Download") })
  download.addEventListener("click", async () => {
    try {
      const b = await content()
      const url = URL.createObjectURL(new Blob([b], { type: "application/octet-stream" }))
      const a = el("a", { href: url, download: name })
      document.body.append(a)
      a.click()
      a.remove()
      setTimeout(() => URL.revokeObjectURL(url), 60_000)
    } catch {
      status(root, msg(root, "Failed"))
    }
  })
  actions.append(download)
  // A copy without hidden metadata, made in this page by pista's own
  // scrubbers (WebAssembly, fetched on the first press): for files a
  // source chose to send with their metadata, or sent from an app.
  const scrubbed = el("button", { type: "button", text: msg(root, "Scrubcopy"), "data-scrub": "" })
  scrubbed.addEventListener("click", async () => {
    status(root, msg(root, "Scrubbing"))
    let out
    try {
      const b = await content()
      out = await scrubFile(new Uint8Array(await b.arrayBuffer()), name, type)
    } catch (err) {
      if (err && err.report && err.report.too_complex) {
        status(root, msg(root, "Scrubtoocomplex"))
        return
      }
      status(root, msg(root, "Scrubfailed", { error: err && err.message ? err.message : String(err) }))
      return
    }
    const url = URL.createObjectURL(new Blob([out.bytes], { type: "application/octet-stream" }))
    const a = el("a", { href: url, download: name })
    document.body.append(a)
    a.click()
    a.remove()
    setTimeout(() => URL.revokeObjectURL(url), 60_000)
    const found = Array.isArray(out.report.found) ? out.report.found.join(", ") : ""
    status(root, found ? msg(root, "Scrubdone", { found }) : msg(root, "Scrubnone"))
  })
  actions.append(scrubbed)
  plain.append(actions)

  if (!previewTypes.has(type)) return
  const frameBox = el("div", { class: "preview" })
  plain.append(frameBox)
  const preview = async () => {
    const b = await content()
    const url = URL.createObjectURL(b)
    const frame = el("iframe", { sandbox: "", title: msg(root, "PreviewTitle", { name }), referrerpolicy: "no-referrer" })
    frame.src = url
    frameBox.replaceChildren(frame)
    // The object URL lives as long as the page shows it.
    window.addEventListener("pagehide", () => URL.revokeObjectURL(url), { once: true })
  }
  if (size !== null && size <= maxPreview) {
    preview().catch(() => status(root, msg(root, "Failed")))
  } else {
    const b = el("button", { type: "button", text: msg(root, "Preview") })
    b.addEventListener("click", () => preview().catch(() => status(root, msg(root, "Failed"))))
    actions.append(b)
  }
}

// answersView shows a source's answers to the desk's questions as
// question → answer: the question as the newsroom wrote it, with what the
// source read when they read it in another language.
function answersView(plain, text) {
  const a = JSON.parse(text)
  const list = Array.isArray(a && a.answers) ? a.answers : []
  const dl = el("dl", { class: "answers" })
  if (typeof a.lang === "string" && a.lang !== "") dl.setAttribute("data-lang", a.lang)
  for (const x of list) {
    if (!x || typeof x !== "object") continue
    const q = typeof x.question === "string" ? x.question : String(x.id || "")
    const dt = el("dt", { text: q })
    if (typeof x.asked === "string" && x.asked !== "") {
      const asked = el("span", { class: "asked", text: " (" + x.asked + ")" })
      if (typeof a.lang === "string") asked.setAttribute("lang", a.lang)
      dt.append(asked)
    }
    const dd = el("dd", { text: typeof x.value === "string" ? x.value : "", dir: "auto" })
    if (x.kind === "long_text") dd.setAttribute("class", "text")
    dl.append(dt, dd)
  }
  plain.append(dl)
}

function status(root, text) {
  const s = root.querySelector("[data-read-status]")
  if (s) s.textContent = text
}

async function readConversation(root) {
  status(root, msg(root, "Decrypting"))
  if (!(await keys.deskDecrypter())) {
    status(root, msg(root, "Nokey"))
    return
  }
  let failed = false
  for (const li of root.querySelectorAll("li[data-item]")) {
    const plain = li.querySelector("[data-plain]")
    try {
      // The key the item says it is under first (data-sealing), then
      // every other of this device.
      const d = await keys.decrypterFor(li)
      if (li.dataset.kind === "file") {
        if (!li.dataset.meta) continue
        const meta = JSON.parse(await d.decrypt(await fetchBytes(li.dataset.meta), "text"))
        fileView(root, li, plain, meta, li.dataset.url)
      } else if (li.dataset.kind === "answers") {
        answersView(plain, await d.decrypt(await fetchBytes(li.dataset.url), "text"))
      } else {
        const text = await d.decrypt(await fetchBytes(li.dataset.url), "text")
        plain.append(el("p", { class: "text", text }))
      }
      plain.hidden = false
    } catch {
      failed = true
      plain.replaceChildren(el("p", { class: "error", text: msg(root, "Failed") }))
      plain.hidden = false
    }
  }
  status(root, failed ? msg(root, "Failed") : msg(root, "Decrypted"))
}

// sealReply encrypts the reply in the browser and posts the age file.
function sealReply(form, token) {
  const hint = form.querySelector("#reply-hint")
  if (hint && hint.dataset.hintBrowser) hint.textContent = hint.dataset.hintBrowser
  const say = (t) => {
    const s = form.querySelector("[data-reply-status]")
    if (s) s.textContent = t
  }
  // The files' input is the script's only: without it, the form the
  // server encrypts carries text alone.
  const filesBox = form.querySelector("[data-reply-files]")
  const fileInput = filesBox && filesBox.querySelector('input[type="file"]')
  if (filesBox) filesBox.hidden = false
  form.addEventListener("submit", async (event) => {
    event.preventDefault()
    const text = form.elements.reply.value.replace(/\r\n/g, "\n")
    if (text.trim() === "") return
    const button = form.querySelector('button[type="submit"]')
    button.disabled = true
    say(form.dataset.msgEncrypting || "")
    try {
      const recipients = (form.dataset.recipients || "").split(/\s+/).filter(Boolean)
      if (recipients.length < 2) throw new Error("no recipients")
      const e = new Encrypter()
      for (const r of recipients) e.addRecipient(r)
      const sealed = await e.encrypt(text)
      // With files, a multipart body (replyfiles.js); the browser sets
      // its type and boundary.
      const files = fileInput ? Array.from(fileInput.files || []) : []
      const tooMuch = files.length ? replyFiles.check(filesBox, files) : ""
      if (tooMuch) throw new Error(tooMuch)
      const headers = { "X-CSRF-Token": token }
      // The desk whose keys this page encrypted to: refused if the
      // conversation moved since the page was opened.
      if (form.dataset.desk) headers["Pista-Sealed-For"] = form.dataset.desk
      let body = sealed
      if (files.length) body = await replyFiles.body(sealed, files, recipients)
      else headers["Content-Type"] = "application/octet-stream"
      const resp = await fetch(form.dataset.sealReply, { method: "POST", credentials: "same-origin", headers, body })
      const answer = await resp.json().catch(() => ({}))
      if (!resp.ok || typeof answer.location !== "string" || !answer.location.startsWith("/newsroom/")) {
        throw new Error(answer.error || "refused")
      }
      form.elements.reply.value = ""
      location.assign(answer.location)
    } catch (err) {
      say((err && err.message && err.message !== "refused" && err.message !== "no recipients" ? err.message + " " : "") + (form.dataset.msgFailed || ""))
      button.disabled = false
    }
  })
}

// The search: the desks' encrypted indexes (searchindex.js), downloaded,
// decrypted and searched in this page; the words typed never leave it.
// Once the index is loaded, the page adds what is newer than each desk's
// cursor (the items route), in the background, and uploads it as a new
// segment every uploadEvery conversations and at the end; then merges
// small segments when a desk has more than compactAt.
const uploadEvery = 2000
const compactAt = 8
const fetchers = 6
const maxShown = 100

async function getJSON(url, signal) {
  const resp = await fetch(url, { credentials: "same-origin", signal, headers: { Accept: "application/json" } })
  if (!resp.ok) throw new Error(`the server answered ${resp.status}`)
  return resp.json()
}

// itemDecrypter opens an item of the items route: the key it is under
// first (its sealing, its intake key, its conversation's key from the
// page's conversation_keys), then every other of this device.
function itemDecrypter(it, page) {
  const ck = page && page.conversation_keys && page.conversation_keys[it.conversation]
  return keys.deskDecrypter({
    sealing: it.sealing || "",
    intakeKey: it.intake_key || "",
    convKey: (ck && ck.key) || it.conv_key || "",
  })
}

// itemText is what an item adds to the index: a text's words, a file's
// name; "" for what this device cannot open.
async function itemText(it, page) {
  try {
    const d = await itemDecrypter(it, page)
    if (!d) return ""
    if (it.kind === "file") {
      if (!it.meta) return ""
      const meta = JSON.parse(await d.decrypt(await fetchBytes(it.meta), "text"))
      return typeof meta.name === "string" ? meta.name : ""
    }
    if (it.size > maxSearchText) return ""
    const text = await d.decrypt(await fetchBytes(it.url), "text")
    if (it.kind === "answers") {
      const a = JSON.parse(text)
      return (Array.isArray(a.answers) ? a.answers : []).map((x) => (x && typeof x.value === "string" ? x.value : "")).join("\n")
    }
    return text
  } catch (err) {
    if (err && /server answered|fetch/i.test(String(err.message))) throw err
    return "" // not for a key of this device
  }
}

class DeskIndex {
  constructor(info) {
    this.desk = info.desk
    this.recipients = info.recipients || []
    this.upload = info.upload
    this.items = info.items
    this.segments = [] // {id, size, seg}
    this.live = new Map() // what is indexed and not yet uploaded
    this.liveConvs = new Set()
  }
  // head is the segment to resume after: the highest gen.
  head() {
    let best = null
    for (const s of this.segments) if (!best || s.seg.gen > best.seg.gen) best = s
    return best ? best.seg : null
  }
  add(conv, text) {
    for (const w of idx.words(text)) {
      let set = this.live.get(w)
      if (!set) this.live.set(w, (set = new Set()))
      set.add(conv)
    }
    this.liveConvs.add(conv)
    this.searcher().addLive(conv)
  }
  // searcher is the Searcher of the segments and what is live.
  searcher() {
    if (!this.cache) {
      this.cache = new idx.Searcher(this.segments.map((s) => s.seg))
      for (const c of this.liveConvs) this.cache.addLive(c)
    }
    return this.cache
  }
  async send(map, header, replaces, token) {
    const plain = idx.encodeSegment(map, { desk: this.desk, ...header })
    const body = await idx.seal(plain, this.recipients)
    const q = replaces.length ? "?replaces=" + replaces.map(encodeURIComponent).join(",") : ""
    const resp = await fetch(this.upload + q, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": token },
      body,
    })
    const answer = await resp.json().catch(() => ({}))
    if (!resp.ok || typeof answer.id !== "string") throw new Error(answer.error || `the server answered ${resp.status}`)
    return { id: answer.id, size: body.length, seg: new idx.Segment(plain) }
  }
  // flush uploads what is live, as covering the desk up to cursor.
  async flush(cursor, token) {
    if (this.liveConvs.size === 0) return
    const head = this.head()
    const s = await this.send(this.live, { gen: (head ? head.gen : 0) + 1, cursor }, [], token)
    this.segments.push(s)
    this.live = new Map()
    this.liveConvs = new Set()
    this.cache = null
  }
  // compact merges the smallest segments, up to a quarter of the bound,
  // into one that replaces them.
  async compact(maxSize, token) {
    if (this.segments.length <= compactAt) return
    const bySize = [...this.segments].sort((a, b) => a.size - b.size)
    const parts = []
    let total = 0
    for (const s of bySize) {
      if (total + s.size > maxSize / 4) break
      parts.push(s)
      total += s.size
    }
    if (parts.length < 2) return
    let head = parts[0].seg
    for (const p of parts) if (p.seg.gen > head.gen) head = p.seg
    const merged = await this.send(idx.merge(parts.map((p) => p.seg)), { gen: head.gen, cursor: head.cursor }, parts.map((p) => p.id), token)
    this.segments = this.segments.filter((s) => !parts.includes(s))
    this.segments.push(merged)
    this.cache = null
  }
  // catchUp indexes the desk's items after the cursor.
  async catchUp(token, progress) {
    const head = this.head()
    let after = head ? head.cursor : 0
    let done = after
    for (;;) {
      const page = await getJSON(this.items + "?after=" + encodeURIComponent(after))
      const items = page.items || []
      for (let i = 0; i < items.length; i += fetchers) {
        const chunk = items.slice(i, i + fetchers)
        const texts = await Promise.all(chunk.map((it) => itemText(it, page)))
        chunk.forEach((it, k) => this.add(it.conversation, texts[k]))
        done = chunk[chunk.length - 1].id
        progress()
        if (this.liveConvs.size >= uploadEvery) await this.flush(done, token)
      }
      if (!page.next) break
      after = page.next
    }
    await this.flush(done, token)
  }
  convs() {
    let n = this.liveConvs.size
    for (const s of this.segments) n += s.seg.n
    return n
  }
}

function setupSearch(form) {
  const input = form.querySelector("#search-q")
  const results = form.querySelector("[data-search-results]")
  const say = (t) => {
    form.querySelector("[data-search-status]").textContent = t
  }
  const token = (keys.csrfToken && keys.csrfToken()) || ""
  const l = new URLSearchParams(location.search).get("lang")
  const lang = l ? "?lang=" + encodeURIComponent(l) : ""
  const desks = []
  let state = "loading"
  const total = () => desks.reduce((n, di) => n + di.convs(), 0)
  const show = () => {
    if (state === "loading") say(msg(form, "Loading"))
    else if (state === "building") say(msg(form, "Building", { count: total() }))
    else if (state === "ready") say(msg(form, "Ready", { count: total() }))
  }

  const run = () => {
    const terms = idx.parseQuery(input.value)
    results.replaceChildren()
    if (terms.length === 0) return
    let count = 0
    const shown = []
    for (const di of desks) {
      const r = di.searcher().search(terms, di.live, maxShown - shown.length)
      count += r.count
      for (const c of r.ids) shown.push([c, di.desk])
    }
    for (const [c, desk] of shown) {
      results.append(el("li", {}, el("a", { href: "/newsroom/c/" + c + lang, text: c.slice(0, 8) }), " · ", desk))
    }
    let text = msg(form, "Found", { count })
    if (count > shown.length) text += " " + msg(form, "More", { shown: shown.length })
    say(text)
    form.dataset.searched = String(count)
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault()
    if (state === "nokey" || state === "failed") return
    if (state === "loading") {
      form.dataset.pending = "1"
      return
    }
    run()
  })

  ;(async () => {
    show()
    // Segments are encrypted to the desk's keys.
    const d = await keys.deskDecrypter({ sealing: "desk" })
    if (!d) {
      state = "nokey"
      say(msg(form, "Nokey"))
      return
    }
    const listing = await getJSON(form.dataset.searchIndex)
    for (const info of listing.desks || []) {
      const di = new DeskIndex(info)
      for (const s of info.segments || []) {
        try {
          di.segments.push({ id: s.id, size: s.size, seg: await idx.open(d, await fetchBytes(s.url)) })
        } catch {
          // a segment this device cannot open (a desk key it lacks) is left out
        }
      }
      desks.push(di)
    }
    state = "building"
    show()
    if (form.dataset.pending) run()
    for (const di of desks) {
      try {
        await di.compact(listing.max_segment_size, token)
        await di.catchUp(token, show)
        await di.compact(listing.max_segment_size, token)
      } catch {
        // another browser compacted first, or the network failed: what
        // was uploaded stays, the rest is indexed next time
      }
    }
    state = "ready"
    form.dataset.indexReady = "1"
    if (form.dataset.pending || input.value) run()
    else show()
  })().catch(() => {
    state = "failed"
    say(msg(form, "Failed"))
  })
}

const conversation = document.querySelector("#conversation[data-conversation]")
if (conversation) {
  const token = (keys.csrfToken && keys.csrfToken()) || conversation.dataset.csrf
  readConversation(conversation)
  const form = document.querySelector("form[data-seal-reply]")
  if (form) {
    form.hidden = false
    sealReply(form, token)
  }
  const transfer = document.querySelector("form[data-transfer]")
  if (transfer) setupTransfer(transfer, token, keys.decrypterFor)
}

const search = document.querySelector("form#search[data-search-index]")
if (search) {
  search.hidden = false
  setupSearch(search)
}
