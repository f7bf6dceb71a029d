// pista's source pages work without JavaScript: the server encrypts a tip
// as it arrives. When this script runs, it encrypts the tip in the browser
// instead, before anything leaves the device, with age to the desk's
// public keys, and sends only age files. The server checks that each is a
// well-formed age file for the desk and stores it as it is.
//
// The original form is never sent: the script builds a hidden form with
// the encrypted parts in the order the server reads them (csrf, desk,
// encrypted, message, contact, each file followed by its name and type)
// under neutral file names, and submits that. If encryption fails, the
// plain form is submitted and the server encrypts on arrival, as without
// JavaScript.

import { Encrypter } from "age-encryption"

function recipientsOf(form) {
  const desk = form.querySelector('input[name="desk"]:checked')
  const list = (desk && desk.dataset.recipients) || form.dataset.recipients || ""
  return list.split(/\s+/).filter(Boolean)
}

async function encrypt(recipients, data) {
  const e = new Encrypter()
  for (const r of recipients) e.addRecipient(r)
  return e.encrypt(data)
}

// padme is the length a file of n bytes is padded to inside its
// encryption, as the server pads (intake.Padme): only the top
// floor(log2(log2 n))+1 bits of the length may be set.
function padme(n) {
  if (n < 2) return n
  const e = n.toString(2).length - 1
  const s = e.toString(2).length
  const unit = 2 ** (e - s)
  return Math.ceil(n / unit) * unit
}

// padded streams a file followed by the zeros that padme asks for.
function padded(file) {
  const reader = file.stream().getReader()
  let zeros = padme(file.size) - file.size
  return new ReadableStream({
    async pull(controller) {
      const { done, value } = await reader.read()
      if (!done) {
        controller.enqueue(value)
      } else if (zeros > 0) {
        const n = Math.min(zeros, 65536)
        controller.enqueue(new Uint8Array(n))
        zeros -= n
      } else {
        controller.close()
      }
    },
  })
}

async function encryptFile(recipients, file) {
  const stream = await encrypt(recipients, padded(file))
  return new Response(stream).blob()
}

function hidden(form, name, value) {
  const input = document.createElement("input")
  input.type = "hidden"
  input.name = name
  input.value = value
  form.append(input)
}

function attach(form, name, data, filename) {
  const input = document.createElement("input")
  input.type = "file"
  input.name = name
  const dt = new DataTransfer()
  dt.items.add(new File([data], filename, { type: "application/octet-stream" }))
  input.files = dt.files
  form.append(input)
}

async function seal(form) {
  const recipients = recipientsOf(form)
  if (recipients.length === 0) throw new Error("no recipients")
  const out = document.createElement("form")
  out.method = "post"
  out.action = form.action
  out.enctype = "multipart/form-data"
  out.hidden = true
  hidden(out, "csrf", form.elements.csrf.value)
  const desk = form.querySelector('input[name="desk"]:checked')
  if (desk) hidden(out, "desk", desk.value)
  hidden(out, "encrypted", "1")
  const message = form.elements.message ? form.elements.message.value.replace(/\r\n/g, "\n") : ""
  if (message.trim() !== "") attach(out, "message", await encrypt(recipients, message), "message.age")
  const contact = form.elements.contact ? form.elements.contact.value : ""
  if (contact.trim() !== "") attach(out, "contact", await encrypt(recipients, contact), "contact.age")
  const files = form.elements.files ? Array.from(form.elements.files.files) : []
  for (const f of files) {
    attach(out, "files", await encryptFile(recipients, f), "file.age")
    const meta = JSON.stringify({ name: f.name, type: f.type, size: f.size })
    attach(out, "file_meta", await encrypt(recipients, meta), "meta.age")
  }
  if (form.elements.keep_metadata && form.elements.keep_metadata.checked) hidden(out, "keep_metadata", "1")
  return out
}

function setStatus(form, text) {
  const status = form.querySelector("[data-status]")
  if (status) status.textContent = text
}

for (const note of document.querySelectorAll("[data-js-only]")) note.hidden = false

for (const form of document.querySelectorAll("form[data-encrypt]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault()
    const button = form.querySelector('button[type="submit"]')
    if (button) button.disabled = true
    setStatus(form, form.dataset.msgEncrypting || "")
    let out
    try {
      out = await seal(form)
    } catch (err) {
      // The server encrypts on arrival instead.
      setStatus(form, form.dataset.msgFallback || "")
      HTMLFormElement.prototype.submit.call(form)
      return
    }
    setStatus(form, form.dataset.msgSending || "")
    document.body.append(out)
    HTMLFormElement.prototype.submit.call(out)
  })
}
