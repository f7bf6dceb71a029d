// pista's source pages work without JavaScript: the server encrypts a tip
// as it arrives. When this script runs, it encrypts the tip in the browser
// instead, before anything leaves the device, with age to the desk's
// public keys, and sends only age files. The server checks that each is a
// well-formed age file for the desk and stores it as it is.
//
// The original form is never sent: the script builds a hidden form with
// the encrypted parts in the order the server reads them (csrf, desk,
// encrypted, the intake key it used, message, its preview, contact, each
// file followed by its name and type)
// under neutral file names, and submits that. If encryption fails, the
// plain form is submitted and the server encrypts on arrival, as without
// JavaScript.
//
// Files, when the page offers resumable uploads (data-upload-url), are not
// part of that form: each is encrypted into a blob on the device, then
// uploaded with tus in 4 MiB pieces, resuming from the server's offset
// whenever the connection drops, with a progress bar. The hidden form
// then names each upload (field "upload") instead of carrying the file.
// The texts the script shows come from the page (data-msg-* attributes),
// in the page's language.
//
// Files lose their hidden metadata on the device before they are
// encrypted, unless the source ticked "keep metadata": pista's own
// scrubber (the server's Go code, as WebAssembly, ../scrub/scrub.js) is
// fetched only then, when the form carries files, with its progress shown.
// Each file's encrypted name-and-type object says what was done (its
// "scrub" report: by "browser", the source's choice, what was found). A
// file the scrubber does not know, cannot read, or that is over this
// page's budget goes as it is, and its report says so; if the scrubber
// does not load, the source is asked whether to send the files as they
// are or to remove them: never silently.
//
// The chosen desk's questions (if it asks any) are answered in the same
// page: the script shows only that desk's, checks the required ones before
// anything is encrypted, and sends the answers as one encrypted part,
// "answers", the JSON the server would make (pista.Answers); a file
// question's file goes as the form's files do, its name-and-type object
// naming the question. The answers' plain fields are never sent.
//
// Forward secrecy (docs/forward-secrecy.md): when the desk publishes the
// day's intake key (data-intake-*) signed by its desk key's signing key
// (data-sign-key), and the signature checks out here, every part is
// encrypted to that intake key and the archive's keys instead of the
// desk's key, and the hidden form says so (field "intake_key"): a copy
// of it stops opening once the day's key is destroyed. Otherwise the
// parts go to data-recipients as before, and the newsroom sees the tip as
// received without forward secrecy.

import { Encrypter } from "age-encryption"
import { Upload } from "tus-js-client"
import { sha256 } from "@noble/hashes/sha2.js"
import { ed25519 } from "@noble/curves/ed25519.js"
import { loadScrubber, notes, scrubFile } from "./scrub/scrub.js"
import { padme, padded } from "./shared/padding.js"

function b64bytes(s) {
  try {
    const bin = atob(s || "")
    const out = new Uint8Array(bin.length)
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
    return out
  } catch {
    return new Uint8Array(0)
  }
}

// verifiedIntake answers the day's intake key el (the chosen desk's radio
// button, or a follow-up's form) carries if its signature by the desk's
// signing key checks out over forward.Statement; else null.
function verifiedIntake(el, recipients) {
  const d = el.dataset
  const deskKey = d.deskKey || ""
  const id = d.intakeId || ""
  const day = d.intakeDay || ""
  const rec = d.intakeRecipient || ""
  if (!deskKey || !recipients.includes(deskKey) || !/^[1-9][0-9]{0,17}$/.test(id) || !/^[0-9]{1,17}$/.test(day) || !rec.startsWith("age1pq1")) {
    return null
  }
  const pub = b64bytes(d.signKey)
  const sig = b64bytes(d.intakeSignature)
  if (pub.length !== 32 || sig.length !== 64) return null
  const statement = new TextEncoder().encode("pista/v1/intake-key\n" + deskKey + "\n" + day + "\n" + rec + "\n")
  try {
    if (!ed25519.verify(sig, statement, pub)) return null
  } catch {
    return null
  }
  return { id, recipient: rec, deskKey }
}

// sealingOf answers what the form's parts are encrypted to: {recipients,
// intakeKey}: the verified intake key and the archive's keys, with its ID
// to declare; or the desk's keys (data-recipients) and "".
function sealingOf(form) {
  const desk = form.querySelector('input[name="desk"]:checked')
  const el = desk && desk.dataset.recipients ? desk : form
  const recipients = (el.dataset.recipients || "").split(/\s+/).filter(Boolean)
  const ik = verifiedIntake(el, recipients)
  if (!ik) return { recipients, intakeKey: "" }
  return { recipients: [ik.recipient, ...recipients.filter((r) => r !== ik.deskKey)], intakeKey: ik.id }
}

async function encrypt(recipients, data) {
  const e = new Encrypter()
  for (const r of recipients) e.addRecipient(r)
  return e.encrypt(data)
}

// encryptFile encrypts a padded file into a blob: the browser keeps large
// blobs on disk, and they are ciphertext.
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

// previewText is pista.PreviewText: the first 140 characters of the
// message, its runs of white space made one space, padded with zero bytes
// to 560 bytes so that its size says nothing of the message's length.
function previewText(message) {
  const chars = Array.from(message.trim().replace(/\s+/g, " ").replace(/[\u0000\uFFFD]/g, "")).slice(0, 140)
  const bytes = new TextEncoder().encode(chars.join(""))
  const out = new Uint8Array(560)
  out.set(bytes.subarray(0, 560))
  return out
}

// fileMeta is a file's name-and-type object: its name, type and exact
// size, what was done to its metadata, and the question it answers.
function fileMeta(f, scrub, question) {
  const m = { name: f.name, type: f.type, size: f.size, scrub }
  if (question) m.question = question
  return JSON.stringify(m)
}

// The desk's questions (see the server's web/questions.go).
function chosenDesk(form) {
  const desk = form.querySelector('input[name="desk"]:checked')
  return desk ? desk.value : ""
}

function questionsOf(form) {
  const box = form.querySelector(`fieldset[data-questions="${CSS.escape(chosenDesk(form))}"]`)
  return box ? Array.from(box.querySelectorAll("[data-question]")) : []
}

// showQuestions shows only the chosen desk's questions.
function showQuestions(form) {
  const chosen = chosenDesk(form)
  for (const box of form.querySelectorAll("fieldset[data-questions]")) box.hidden = box.dataset.questions !== chosen
}

const maxAnswer = { text: 1000, long_text: 20000, date: 1000 }

// answersOf reads the chosen desk's answers: {answers, files, missing,
// tooLong}, where files are [{file, question}] and missing the labels of
// required questions left blank.
function answersOf(form) {
  const out = { answers: [], files: [], missing: [], tooLong: [] }
  for (const q of questionsOf(form)) {
    const kind = q.dataset.kind
    const a = { id: q.dataset.id, kind, question: q.dataset.label }
    if (q.dataset.asked && q.dataset.asked !== q.dataset.label) a.asked = q.dataset.asked
    let values = []
    if (kind === "choice" || kind === "choices" || kind === "yes_no") {
      const checked = Array.from(q.querySelectorAll("input:checked"))
      values = checked.map((i) => i.dataset.label || i.value)
    } else if (kind === "file") {
      const input = q.querySelector('input[type="file"]')
      const f = input && input.files.length > 0 ? input.files[0] : null
      if (f) {
        out.files.push({ file: f, question: a.id })
        values = [f.name]
      }
    } else {
      const input = q.querySelector("input, textarea")
      let v = input ? input.value.replace(/\r\n/g, "\n") : ""
      if (v.trim() !== "") {
        if ([...v].length > (maxAnswer[kind] || 1000)) out.tooLong.push(q.dataset.asked)
        if (kind === "text") v = v.replace(/\n/g, " ")
        values = [v]
      }
    }
    markMissing(form, q, false)
    if (values.length === 0 || values.every((v) => v.trim() === "")) {
      if (q.hasAttribute("data-required")) {
        out.missing.push(q.dataset.asked)
        markMissing(form, q, true)
      }
      continue
    }
    a.value = values.join(", ")
    if (kind === "choices") a.values = values
    out.answers.push(a)
  }
  return out
}

// markMissing says beside a question that it needs an answer, as the
// server's page does, or takes that away.
function markMissing(form, q, missing) {
  q.classList.toggle("invalid", missing)
  let note = q.querySelector("[data-js-error]")
  if (!missing) {
    if (!note) return
    for (const input of q.querySelectorAll(`[aria-describedby="${note.id}"]`)) {
      input.removeAttribute("aria-invalid")
      input.removeAttribute("aria-describedby")
    }
    note.remove()
    return
  }
  if (!note) {
    note = document.createElement("p")
    note.className = "error"
    note.setAttribute("data-js-error", "")
    note.id = "js-error-" + q.dataset.id
    const at = q.querySelector("legend, label")
    if (at) at.after(note)
    else q.prepend(note)
  }
  note.textContent = form.dataset.msgQuestionRequired || ""
  for (const input of q.querySelectorAll("input, textarea")) {
    input.setAttribute("aria-invalid", "true")
    input.setAttribute("aria-describedby", note.id)
  }
}

// checkAnswers says what is missing, and answers false, if a required
// question has no answer or an answer is too long.
function checkAnswers(form) {
  const a = answersOf(form)
  if (a.missing.length > 0) {
    setStatus(form, fill(form.dataset.msgRequired, { questions: a.missing.join(lang === "ar" ? "، " : ", ") }))
    const first = form.querySelector("[data-question].invalid input, [data-question].invalid textarea")
    if (first) first.focus()
    return false
  }
  if (a.tooLong.length > 0) {
    setStatus(form, (form.dataset.msgToolong || "") + " " + a.tooLong.join(", "))
    return false
  }
  return true
}

// attachAnswers adds the encrypted answers to the hidden form.
async function attachAnswers(form, out, recipients) {
  const a = answersOf(form)
  if (a.answers.length === 0) return
  const plain = JSON.stringify({ lang, answers: a.answers })
  attach(out, "answers", await encrypt(recipients, plain), "answers.age")
}

// allFiles lists the files to send: the form's, then the questions',
// each with the question it answers ("" for none).
function allFiles(form) {
  return filesOf(form)
    .map((file) => ({ file, question: "" }))
    .concat(answersOf(form).files)
}

// sealedForm starts the hidden form: the token, the desk, the intake key
// the parts are encrypted to (if any) and the encrypted message and
// contact.
async function sealedForm(form, recipients, intakeKey) {
  const out = document.createElement("form")
  out.method = "post"
  out.action = form.action
  out.enctype = "multipart/form-data"
  out.hidden = true
  hidden(out, "csrf", form.elements.csrf.value)
  const desk = form.querySelector('input[name="desk"]:checked')
  if (desk) hidden(out, "desk", desk.value)
  // A follow-up names the desk whose keys it was encrypted to: refused if
  // the conversation moved since this page was opened.
  if (form.dataset.desk) hidden(out, "sealed_for", form.dataset.desk)
  hidden(out, "encrypted", "1")
  if (intakeKey) hidden(out, "intake_key", intakeKey)
  const message = form.elements.message ? form.elements.message.value.replace(/\r\n/g, "\n") : ""
  if (message.trim() !== "") attach(out, "message", await encrypt(recipients, message), "message.age")
  // A new tip's first message also gets a short preview for the inbox,
  // encrypted to the same keys (the server never sees it either).
  if (desk && message.trim() !== "") attach(out, "preview", await encrypt(recipients, previewText(message)), "preview.age")
  const contact = form.elements.contact ? form.elements.contact.value : ""
  if (contact.trim() !== "") attach(out, "contact", await encrypt(recipients, contact), "contact.age")
  await attachAnswers(form, out, recipients)
  return out
}

function keepMetadata(form, out) {
  if (form.elements.keep_metadata && form.elements.keep_metadata.checked) hidden(out, "keep_metadata", "1")
}

function filesOf(form) {
  return form.elements.files ? Array.from(form.elements.files.files) : []
}

// maxScrubBytes is this page's budget: a larger file is not scrubbed in
// the browser (the scrubber holds it, and its copy, in the page's memory,
// which a phone may not have), and goes as it is, reported as too large.
// scrubMemory is what the scrubber may hold besides for one file (a
// document's parts, decompressed): a file that needs more goes as it is,
// reported as too complex to clean safely.
const maxScrubBytes = 100 << 20
const scrubMemory = 256 << 20

function keeps(form) {
  return !!(form.elements.keep_metadata && form.elements.keep_metadata.checked)
}

// loadingShown shows the scrubber's download on the form's progress bar.
function loadingShown(form) {
  const total = Number(form.dataset.scrubberBytes || 0)
  const box = form.querySelector("[data-upload]")
  const bar = form.querySelector("[data-upload-bar]")
  let shown = -1
  return (received) => {
    const fraction = total > 0 ? Math.min(received / total, 1) : 0
    const percent = Math.floor(fraction * 100)
    if (percent === shown) return
    shown = percent
    if (box) box.hidden = false
    if (bar) bar.value = percent
    setStatus(form, fill(form.dataset.msgScrubLoading, { percent: formatPercent(percent / 100) }))
  }
}

// askUnscrubbed asks the source, when the scrubber did not load, whether
// to send the files as they are ("send") or to remove them ("remove").
function askUnscrubbed(form) {
  const box = form.querySelector("[data-scrub-failed]")
  if (!box) return Promise.resolve("remove") // never send them unasked
  const send = box.querySelector("[data-scrub-send]")
  const remove = box.querySelector("[data-scrub-remove]")
  box.hidden = false
  setStatus(form, "")
  return new Promise((resolve) => {
    const done = (choice) => {
      box.hidden = true
      send.onclick = remove.onclick = null
      resolve(choice)
    }
    send.onclick = () => done("send")
    remove.onclick = () => done("remove")
    send.focus()
  })
}

// prepareFiles answers the form's files as they are to be encrypted, each
// with its scrub report: scrubbed on this device unless the source keeps
// the metadata. It answers null when the source removed the files.
async function prepareFiles(form) {
  const entries = allFiles(form)
  if (entries.length === 0) return []
  const by = { by: "browser" }
  if (keeps(form)) {
    return entries.map(({ file, question }) => ({ file, question, scrub: { ...by, choice: "keep", scrubbed: false, note: notes.kept } }))
  }
  const base = { ...by, choice: "scrub" }
  const box = form.querySelector("[data-upload]")
  try {
    await loadScrubber(loadingShown(form))
    if (box) box.hidden = true // the uploads' progress shows there next
  } catch (err) {
    if (box) box.hidden = true
    if ((await askUnscrubbed(form)) === "remove") return null
    return entries.map(({ file, question }) => ({ file, question, scrub: { ...base, scrubbed: false, note: notes.notLoaded } }))
  }
  const out = []
  for (const [i, { file: f, question }] of entries.entries()) {
    setStatus(form, fill(form.dataset.msgScrubbing, { n: i + 1, total: entries.length }))
    await new Promise((r) => setTimeout(r, 0)) // let the page show it
    if (f.size > maxScrubBytes) {
      out.push({ file: f, question, scrub: { ...base, scrubbed: false, too_complex: true, note: notes.tooLarge } })
      continue
    }
    try {
      const { bytes, report } = await scrubFile(new Uint8Array(await f.arrayBuffer()), f.name, f.type, scrubMemory)
      // A new File: nothing of the original (its date) comes along.
      const file = new File([bytes], f.name, { type: f.type })
      const found = Array.isArray(report.found) ? report.found : []
      out.push({ file, question, scrub: { ...base, format: report.format, scrubbed: true, found, note: report.note || undefined } })
    } catch (err) {
      const r = (err && err.report) || {}
      let scrub = { ...base, format: r.format || undefined, scrubbed: false, note: notes.unreadable }
      if (err && err.unsupported) scrub = { ...base, scrubbed: false, note: notes.unknown }
      else if (r.too_complex) scrub = { ...base, format: r.format, scrubbed: false, too_complex: true, note: notes.tooComplex }
      if (!(err && err.unsupported)) setStatus(form, fill(form.dataset.msgScrubAsis, { name: f.name }))
      out.push({ file: f, question, scrub })
    }
  }
  return out
}

// seal builds the hidden form with every file in it.
async function seal(form, prepared) {
  const { recipients, intakeKey } = sealingOf(form)
  if (recipients.length === 0) throw new Error("no recipients")
  const out = await sealedForm(form, recipients, intakeKey)
  for (const { file: f, scrub, question } of prepared) {
    attach(out, "files", await encryptFile(recipients, f), "file.age")
    attach(out, "file_meta", await encrypt(recipients, fileMeta(f, scrub, question)), "meta.age")
  }
  keepMetadata(form, out)
  return out
}

function setStatus(form, text) {
  const status = form.querySelector("[data-status]")
  if (status) status.textContent = text
}

// fill replaces {name} placeholders of a page text.
function fill(text, values) {
  return (text || "").replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m))
}

const lang = document.documentElement.lang || "en"

function formatPercent(fraction) {
  return new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 }).format(fraction)
}

function formatSpeed(bytesPerSecond) {
  const mega = bytesPerSecond >= 1e6
  return new Intl.NumberFormat(lang, {
    style: "unit",
    unit: mega ? "megabyte-per-second" : "kilobyte-per-second",
    unitDisplay: "short",
    maximumFractionDigits: mega ? 1 : 0,
  }).format(mega ? bytesPerSecond / 1e6 : bytesPerSecond / 1e3)
}

function formatDuration(seconds) {
  let unit = "second"
  let n = Math.max(1, Math.ceil(seconds))
  if (seconds >= 3600) {
    unit = "hour"
    n = Math.round(seconds / 360) / 10
  } else if (seconds >= 60) {
    unit = "minute"
    n = Math.ceil(seconds / 60)
  }
  return new Intl.NumberFormat(lang, { style: "unit", unit, unitDisplay: "long", maximumFractionDigits: 1 }).format(n)
}

// Progress shows how much of a submission's files has been sent: a
// <progress> bar and a line with the percentage, the speed and the time
// left, measured over the last few seconds.
class Progress {
  constructor(form, total) {
    this.form = form
    this.box = form.querySelector("[data-upload]")
    this.bar = form.querySelector("[data-upload-bar]")
    this.text = form.querySelector("[data-upload-text]")
    this.total = total
    this.done = 0 // bytes of the files already uploaded
    this.samples = []
    if (this.box) this.box.hidden = false
    this.show(0)
  }

  // estimate replaces a file's estimated size by its ciphertext's.
  estimate(before, after) {
    this.total += after - before
  }

  // show shows sent bytes of the total; only finished shows 100 %: the
  // browser counts bytes as sent once they leave for the network, before
  // the server has them.
  show(sent, finished = false) {
    const fraction = this.total > 0 ? Math.min(sent / this.total, 0.99) : 0
    const now = performance.now()
    this.samples.push([now, sent])
    // Keep the newest sample that is at least 5 s old: a browser may
    // report a chunk's bytes at once and then nothing for seconds, and the
    // speed must still span the time between.
    while (this.samples.length > 2 && now - this.samples[1][0] > 5000) this.samples.shift()
    const [t0, b0] = this.samples[0]
    const speed = now - t0 > 500 ? ((sent - b0) * 1000) / (now - t0) : 0
    const shown = finished ? 1 : Math.floor(fraction * 100) / 100
    if (this.bar) this.bar.value = Math.round(shown * 100)
    const percent = formatPercent(shown)
    let line
    if (speed > 0 && !finished) {
      line = fill(this.form.dataset.msgProgress, {
        percent,
        speed: formatSpeed(speed),
        left: formatDuration((this.total - sent) / speed),
      })
    } else {
      line = fill(this.form.dataset.msgProgressStart, { percent })
    }
    if (this.text) this.text.textContent = line
  }

  file(sent) {
    this.show(this.done + sent)
  }
}

// estimatedSize is about the size of a file's ciphertext, before it is made.
function estimatedSize(file) {
  const n = padme(file.size)
  return n + 16 * Math.max(1, Math.ceil(n / 65536)) + 2048
}

// UploadFailed is an upload that stopped, with the page text saying why.
class UploadFailed extends Error {}

function failureText(form, err) {
  const status = err && err.originalResponse ? err.originalResponse.getStatus() : 0
  if (status === 507) return form.dataset.msgFull
  if (status === 413) return form.dataset.msgToolarge
  if (status === 503) return form.dataset.msgBusy
  return form.dataset.msgFailed
}

// retryable: what tus-js-client would retry (no answer, a server error,
// a conflict over the offset), except what waiting seconds will not mend.
function retryable(err) {
  const status = err && err.originalResponse ? err.originalResponse.getStatus() : 0
  if (status === 507 || status === 503) return false
  return status < 400 || status >= 500 || status === 409 || status === 423
}

const noStorage = {
  findAllUploads: async () => [],
  findUploadsByFingerprint: async () => [],
  removeUpload: async () => {},
  addUpload: async () => "",
}

// upload sends one ciphertext blob with tus and answers its upload ID.
// When it stops for good, it shows why and a Retry button, and resumes
// when that is pressed; it never gives up by itself.
function upload(form, blob, progress) {
  return new Promise((resolve) => {
    const retry = form.querySelector("[data-upload-retry]")
    const up = new Upload(blob, {
      endpoint: form.dataset.uploadUrl,
      chunkSize: 4 << 20,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000, 60000],
      // Nothing about the upload is kept on the device.
      storeFingerprintForResuming: false,
      urlStorage: noStorage,
      metadata: {},
      // A new upload costs a proof of work, as a new tip does.
      async onBeforeRequest(req) {
        if (req.getMethod() !== "POST") return
        const proof = await prove(form)
        if (proof) req.setHeader("Pista-PoW", proof)
      },
      onShouldRetry(err) {
        if (!retryable(err)) return false
        setStatus(form, form.dataset.msgResuming || "")
        return true
      },
      onProgress(sent) {
        progress.file(sent)
      },
      onChunkComplete() {
        setStatus(form, form.dataset.msgUploading || "")
      },
      onError(err) {
        setStatus(form, failureText(form, err) || "")
        if (!retry) return
        retry.hidden = false
        retry.onclick = () => {
          retry.hidden = true
          retry.onclick = null
          setStatus(form, form.dataset.msgUploading || "")
          up.start()
        }
        retry.focus()
      },
      onSuccess() {
        resolve(up.url.split("/").pop())
      },
    })
    up.start()
  })
}

// sendResumable encrypts the form's texts into the hidden form, then each
// file into a blob that it uploads, then submits the hidden form naming
// the uploads.
async function sendResumable(form, button, prepared) {
  const { recipients, intakeKey } = sealingOf(form)
  if (recipients.length === 0) throw new Error("no recipients")
  const files = prepared
  const out = await sealedForm(form, recipients, intakeKey)
  const progress = new Progress(form, files.reduce((n, f) => n + estimatedSize(f.file), 0))
  for (const [i, { file: f, question }] of files.entries()) {
    setStatus(form, fill(form.dataset.msgEncryptingFile, { n: i + 1, total: files.length }))
    const blob = await encryptFile(recipients, f)
    progress.estimate(estimatedSize(f), blob.size)
    setStatus(form, form.dataset.msgUploading || "")
    let id
    try {
      id = await upload(form, blob, progress)
    } catch (err) {
      throw new UploadFailed(String(err))
    }
    progress.done += blob.size
    progress.show(progress.done)
    hidden(out, "upload", id)
    attach(out, "file_meta", await encrypt(recipients, fileMeta(f, prepared[i].scrub, question)), "meta.age")
  }
  keepMetadata(form, out)
  progress.show(progress.total, true)
  await addProof(form, out)
  setStatus(form, form.dataset.msgUploaded || "")
  document.body.append(out)
  HTMLFormElement.prototype.submit.call(out)
}

// maxBits is the hardest proof of work this script does (pow.MaxBits):
// a server that asks more is not followed.
const maxBits = 22

// leadingZeros counts the zero bits at the start of a digest.
function leadingZeros(d) {
  let n = 0
  for (const b of d) {
    if (b === 0) {
      n += 8
      continue
    }
    return n + Math.clz32(b) - 24
  }
  return n
}

// prove solves a proof-of-work challenge from the server (package pow):
// a nonce such that SHA-256 of "CHALLENGE.NONCE" begins with the
// challenge's number of zero bits. It buys the request a place in the
// priority lane of a busy server. It yields to the page now and then, and
// answers "" if anything fails: the form then goes in the ordinary lane,
// as without JavaScript.
async function prove(form) {
  if (!form.dataset.pow) return ""
  try {
    const resp = await fetch(form.dataset.pow, { cache: "no-store", credentials: "same-origin" })
    if (!resp.ok) return ""
    const challenge = (await resp.text()).trim()
    const bits = Number(challenge.split(".")[1])
    if (!(bits >= 1 && bits <= maxBits) || challenge.length > 112) return ""
    const enc = new TextEncoder()
    const prefix = enc.encode(challenge + ".")
    const buf = new Uint8Array(prefix.length + 16)
    buf.set(prefix)
    for (let n = 0; n < 2 ** 40; n++) {
      const hex = n.toString(16)
      const tail = enc.encode(hex)
      buf.set(tail, prefix.length)
      const msg = buf.subarray(0, prefix.length + tail.length)
      if (leadingZeros(sha256(msg)) >= bits) return challenge + "." + hex
      if (n % 8192 === 8191) await new Promise((r) => setTimeout(r, 0))
    }
  } catch (err) {
    return ""
  }
  return ""
}

// addProof solves a challenge for form and adds it to target, the form
// that is sent. A follow-up needs none (data-pow-submit="no"): only its
// uploads do.
async function addProof(form, target) {
  if (!form.dataset.pow || form.dataset.powSubmit === "no") return
  setStatus(form, form.dataset.msgProving || "")
  const proof = await prove(form)
  if (proof) hidden(target, "pow", proof)
}

for (const note of document.querySelectorAll("[data-js-only]")) note.hidden = false

// Forms that only need a proof of work (the returning source's login).
for (const form of document.querySelectorAll("form[data-pow]:not([data-encrypt])")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault()
    const button = form.querySelector('button[type="submit"]')
    if (button) button.disabled = true
    await addProof(form, form)
    HTMLFormElement.prototype.submit.call(form)
  })
}

for (const form of document.querySelectorAll("form[data-encrypt]")) {
  showQuestions(form)
  for (const desk of form.querySelectorAll('input[name="desk"]')) desk.addEventListener("change", () => showQuestions(form))
  form.addEventListener("submit", async (event) => {
    event.preventDefault()
    const button = form.querySelector('button[type="submit"]')
    if (!checkAnswers(form)) return
    if (button) button.disabled = true
    const files = allFiles(form).map((f) => f.file)
    const max = Number(form.dataset.maxUpload || 0)
    if (max > 0 && files.reduce((n, f) => n + padme(f.size), 0) > max) {
      // Refused here, before anything is sent.
      setStatus(form, form.dataset.msgToolarge || "")
      if (button) button.disabled = false
      return
    }
    let prepared
    try {
      prepared = await prepareFiles(form)
    } catch (err) {
      prepared = undefined // the plain form: the server scrubs on arrival
    }
    if (prepared === null) {
      // The source removed the files: nothing was sent.
      form.elements.files.value = ""
      for (const input of form.querySelectorAll('[data-question] input[type="file"]')) input.value = ""
      setStatus(form, form.dataset.msgScrubRemoved || "")
      if (button) button.disabled = false
      return
    }
    setStatus(form, form.dataset.msgEncrypting || "")
    if (prepared === undefined) {
      await addProof(form, form)
      setStatus(form, form.dataset.msgFallback || "")
      HTMLFormElement.prototype.submit.call(form)
      return
    }
    if (form.dataset.uploadUrl && files.length > 0) {
      try {
        await sendResumable(form, button, prepared)
      } catch (err) {
        if (err instanceof UploadFailed) return
        // Encryption failed: the server encrypts on arrival instead.
        await addProof(form, form)
        setStatus(form, form.dataset.msgFallback || "")
        HTMLFormElement.prototype.submit.call(form)
      }
      return
    }
    let out
    try {
      out = await seal(form, prepared)
    } catch (err) {
      // The server encrypts on arrival instead.
      await addProof(form, form)
      setStatus(form, form.dataset.msgFallback || "")
      HTMLFormElement.prototype.submit.call(form)
      return
    }
    await addProof(form, out)
    setStatus(form, form.dataset.msgSending || "")
    document.body.append(out)
    HTMLFormElement.prototype.submit.call(out)
  })
}
