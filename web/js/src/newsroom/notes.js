// Previews in the inbox, internal notes, and the bulk form's "select all".
//
// The inbox (table[data-inbox-previews]): each row's preview of its first
// message came with the page, as an age file (data-preview, base64) that
// only the desk's keys open (directly, or through the day's intake key or
// the conversation's key, both sealed to the desk's key: keys.js); it is
// decrypted here and shown as text
// (textContent, never HTML), cut at its padding. A conversation from
// before previews names its first message instead (data-first): at most
// maxLazy of those are fetched and decrypted per page, one at a time.
// Nothing is decrypted on the server, and nothing decrypted leaves the
// page.
//
// The note form (form[data-seal-note]): the note is encrypted here to the
// page's data-recipients (the desk's current key and the archive's, never
// the source's) and sent as an age file. If that fails, nothing is sent.

import { Encrypter } from "age-encryption"
import * as keys from "./keys.js"

// maxLazy bounds the first messages a page of the inbox fetches to make
// previews for conversations without one.
const maxLazy = 10
// previewChars is pista.PreviewChars.
const previewChars = 140

function msg(el, name) {
  return el.dataset["msg" + name] || ""
}

// previewOf cuts a decrypted preview at its padding, or makes one from a
// whole message as the server does (pista.PreviewText).
function previewOf(text) {
  const cut = text.indexOf("\u0000")
  if (cut >= 0) text = text.slice(0, cut)
  return Array.from(text.trim().replace(/\s+/g, " ")).slice(0, previewChars).join("")
}

async function showPreviews(table) {
  const cells = table.querySelectorAll("p.preview[data-preview], p.preview[data-first]")
  if (cells.length === 0) return
  const base = await keys.deskDecrypter({ sealing: "desk" })
  const show = (p, text, cls) => {
    p.textContent = text
    if (cls) p.classList.add(cls)
    p.hidden = false
  }
  if (!base) {
    for (const p of cells) show(p, msg(table, "Nokey"), "hint")
    return
  }
  let lazy = 0
  for (const p of cells) {
    try {
      // The preview's intake key (the row's data-preview-intake) or its
      // conversation's key (data-conv-key) first.
      const row = p.closest("tr") || p
      const d = await keys.deskDecrypter({
        sealing: row.dataset.previewIntake ? "intake" : "",
        intakeKey: row.dataset.previewIntake || "",
        convKey: row.dataset.convKey || "",
      })
      if (p.dataset.preview) {
        show(p, previewOf(await d.decrypt(keys.b64decode(p.dataset.preview), "text")))
      } else if (lazy < maxLazy) {
        lazy++
        const resp = await fetch(p.dataset.first, { credentials: "same-origin" })
        if (!resp.ok) throw new Error(`the server answered ${resp.status}`)
        show(p, previewOf(await d.decrypt(new Uint8Array(await resp.arrayBuffer()), "text")))
      }
    } catch {
      show(p, msg(table, "Failed"), "hint")
    }
  }
}

// selectAll adds a checkbox that ticks every row's.
function selectAll(table) {
  const th = table.querySelector("thead th")
  const boxes = table.querySelectorAll('tbody input[type="checkbox"][name="id"]')
  if (!th || boxes.length === 0) return
  const all = document.createElement("input")
  all.type = "checkbox"
  all.setAttribute("aria-label", msg(table, "Selectall"))
  all.dataset.selectAll = ""
  all.addEventListener("change", () => {
    for (const b of boxes) b.checked = all.checked
  })
  th.replaceChildren(all)
}

function sealNote(form) {
  const token = (keys.csrfToken && keys.csrfToken()) || ""
  const say = (t) => {
    const s = form.querySelector("[data-note-status]")
    if (s) s.textContent = t
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault()
    const text = form.elements.note.value.replace(/\r\n/g, "\n")
    if (text.trim() === "") return
    const button = form.querySelector('button[type="submit"]')
    button.disabled = true
    say(msg(form, "Encrypting"))
    try {
      const recipients = (form.dataset.recipients || "").split(/\s+/).filter(Boolean)
      if (recipients.length < 1) throw new Error("no recipients")
      const e = new Encrypter()
      for (const r of recipients) e.addRecipient(r)
      const body = await e.encrypt(text)
      const resp = await fetch(form.dataset.sealNote, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": token, ...(form.dataset.desk ? { "Pista-Sealed-For": form.dataset.desk } : {}) },
        body,
      })
      const answer = await resp.json().catch(() => ({}))
      if (!resp.ok || typeof answer.location !== "string" || !answer.location.startsWith("/newsroom/")) {
        throw new Error(answer.error || "refused")
      }
      form.elements.note.value = ""
      location.assign(answer.location)
    } catch (err) {
      say((err && err.message && err.message !== "refused" && err.message !== "no recipients" ? err.message + " " : "") + msg(form, "Failed"))
      button.disabled = false
    }
  })
}

const inbox = document.querySelector("table[data-inbox-previews]")
if (inbox) {
  selectAll(inbox)
  showPreviews(inbox)
}

const noteForm = document.querySelector("form[data-seal-note]")
if (noteForm) {
  noteForm.hidden = false
  sealNote(noteForm)
}
