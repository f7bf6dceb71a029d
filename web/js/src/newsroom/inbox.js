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
// form the server encrypts.
//
// The inbox's search (form#search[data-search]): the words typed stay in
// this page. The script walks the pages of conversations.json (with the
// inbox's filters), decrypts each conversation's texts and file names,
// and lists the conversations that match, as it goes.

import { Decrypter, Encrypter } from "age-encryption"
// keys.js (the login's module) unwraps the journalist's identity and
// desk keys on this device.
import * as keys from "./keys.js"
import { scrubFile } from "./scrub.js"

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

// decrypter returns a Decrypter with every desk key of this device, or
// null if there is none.
async function decrypter() {
  let list
  try {
    list = await keys.deskIdentities()
  } catch {
    return null
  }
  if (!list || list.length === 0) return null
  const d = new Decrypter()
  for (const k of list) d.addIdentity(k.identity)
  return d
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
  plain.append(dl)
  const scrub = meta.scrub
  if (scrub && typeof scrub === "object") {
    const found = Array.isArray(scrub.found) ? scrub.found.join(", ") : ""
    if (scrub.scrubbed) {
      plain.append(el("p", { class: "hint", text: found ? msg(root, "Scrubbed", { found }) : msg(root, "Notscrubbed") }))
    } else {
      // Stored as sent: too complex to scrub within the budget, or unreadable.
      plain.append(el("p", { class: "hint warning", "data-scrub-report": scrub.too_complex ? "too-complex" : "unreadable",
        text: scrub.too_complex ? msg(root, "Toocomplex") : msg(root, "Unreadable") }))
    }
  } else {
    plain.append(el("p", { class: "hint warning", text: msg(root, "Kept") }))
  }

  let blob = null
  const content = async () => {
    if (!blob) {
      const d = await decrypter()
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

function status(root, text) {
  const s = root.querySelector("[data-read-status]")
  if (s) s.textContent = text
}

async function readConversation(root) {
  status(root, msg(root, "Decrypting"))
  const d = await decrypter()
  if (!d) {
    status(root, msg(root, "Nokey"))
    return
  }
  let failed = false
  for (const li of root.querySelectorAll("li[data-item]")) {
    const plain = li.querySelector("[data-plain]")
    try {
      if (li.dataset.kind === "file") {
        if (!li.dataset.meta) continue
        const meta = JSON.parse(await d.decrypt(await fetchBytes(li.dataset.meta), "text"))
        fileView(root, li, plain, meta, li.dataset.url)
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
      const body = await e.encrypt(text)
      const resp = await fetch(form.dataset.sealReply, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": token },
        body,
      })
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

// search decrypts the listed conversations' texts and file names and
// lists those that contain every typed word, ignoring case.
function setupSearch(form) {
  const input = form.querySelector("#search-q")
  const stop = form.querySelector("[data-search-stop]")
  const results = form.querySelector("[data-search-results]")
  const say = (t) => {
    form.querySelector("[data-search-status]").textContent = t
  }
  const l = new URLSearchParams(location.search).get("lang")
  const lang = l ? "?lang=" + encodeURIComponent(l) : ""
  let running = null
  stop.addEventListener("click", () => running && running.abort())
  form.addEventListener("submit", async (event) => {
    event.preventDefault()
    if (running) running.abort()
    const words = input.value.toLocaleLowerCase().normalize("NFC").split(/\s+/).filter(Boolean)
    results.replaceChildren()
    if (words.length === 0) {
      say("")
      return
    }
    const ctl = new AbortController()
    running = ctl
    stop.hidden = false
    let count = 0
    say(msg(form, "Searching", { count }))
    try {
      const d = await decrypter()
      if (!d) {
        say(msg(form, "Nokey"))
        return
      }
      let next = form.dataset.search
      while (next && !ctl.signal.aborted) {
        const resp = await fetch(next, { credentials: "same-origin", signal: ctl.signal, headers: { Accept: "application/json" } })
        if (!resp.ok) throw new Error(`the server answered ${resp.status}`)
        const page = await resp.json()
        for (const c of page.conversations || []) {
          if (ctl.signal.aborted) break
          const texts = []
          for (const it of c.items || []) {
            try {
              if (it.kind === "file" && it.meta) {
                const meta = JSON.parse(await d.decrypt(await fetchBytes(it.meta, ctl.signal), "text"))
                if (typeof meta.name === "string") texts.push(meta.name)
              } else if (it.kind !== "file" && it.size <= maxSearchText) {
                texts.push(await d.decrypt(await fetchBytes(it.url, ctl.signal), "text"))
              }
            } catch (err) {
              if (ctl.signal.aborted) break
              // An item this device cannot open is skipped.
            }
          }
          const hay = texts.join("\n").toLocaleLowerCase().normalize("NFC")
          if (texts.length > 0 && words.every((w) => hay.includes(w))) {
            count++
            const a = el("a", { href: c.url + lang, text: c.id.slice(0, 8) })
            const i = hay.indexOf(words[0])
            const snippet = texts.join("\n").slice(Math.max(0, i - 40), i + 80)
            results.append(el("li", {}, a, " · ", c.desk, el("br"), el("small", { text: snippet })))
            say(msg(form, "Searching", { count }))
          }
        }
        next = page.next
      }
      say(msg(form, ctl.signal.aborted ? "Stopped" : "Done", { count }))
    } catch (err) {
      say(ctl.signal.aborted ? msg(form, "Stopped", { count }) : msg(form, "Failed"))
    } finally {
      if (running === ctl) running = null
      stop.hidden = true
    }
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
}

const search = document.querySelector("form#search[data-search]")
if (search) {
  search.hidden = false
  setupSearch(search)
}
