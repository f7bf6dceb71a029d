// Files sent with a reply. Each file is encrypted here, like the reply's
// text, to the page's data-recipients (the source, the desk's current
// key, the archive), padded inside the encryption to padme of its size as
// a source's files are, and its name, type and exact size encrypted as a
// second age file. The body the server gets (newsroom/replyfiles.go) is
// multipart: "reply", then "file" and "file_meta" for each file; it never
// sees a file, its name or its size in the clear. The browser keeps large
// blobs on disk: they are ciphertext.

import { Encrypter } from "age-encryption"
import { padme, padded } from "../shared/padding.js"

async function encrypt(recipients, data) {
  const e = new Encrypter()
  for (const r of recipients) e.addRecipient(r)
  return e.encrypt(data)
}

// check answers the message of the limit the files cross, or "".
export function check(box, files) {
  const maxFiles = Number(box.dataset.maxFiles || 0)
  const maxUpload = Number(box.dataset.maxUpload || 0)
  if (maxFiles > 0 && files.length > maxFiles) return box.dataset.msgToomany || "too many files"
  if (maxUpload > 0 && files.reduce((n, f) => n + padme(f.size), 0) > maxUpload) return box.dataset.msgToolarge || "too large"
  return ""
}

// body is the multipart body of a reply (already encrypted) and its files.
export async function body(sealedReply, files, recipients) {
  const fd = new FormData()
  fd.append("reply", new Blob([sealedReply], { type: "application/octet-stream" }), "reply.age")
  for (const f of files) {
    const sealed = await new Response(await encrypt(recipients, padded(f))).blob()
    fd.append("file", new Blob([sealed], { type: "application/octet-stream" }), "file.age")
    const meta = JSON.stringify({ name: f.name, type: f.type, size: f.size })
    fd.append("file_meta", new Blob([await encrypt(recipients, meta)], { type: "application/octet-stream" }), "meta.age")
  }
  return fd
}
