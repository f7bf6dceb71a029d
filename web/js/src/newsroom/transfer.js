// Moving a conversation to another desk (newsroom/transfer.go). The
// server has no private key, so this page does the work: it decrypts
// every item of the conversation, as stored, with the desk keys on this
// device, encrypts it again to the chosen desk's key and the archive's
// (and to the source's key too for replies and their files, so that the
// source can still read them), streaming, and posts the copies in one
// body: "transfer" (the desk and the item IDs, in order), then "object"
// and, for files, "meta" for each item. Nothing is sent in the clear. If
// the page closes half way, the server stores nothing and the
// conversation stays whole where it was.

import { Encrypter } from "age-encryption"

async function reseal(d, url, recipients) {
  const resp = await fetch(url, { credentials: "same-origin" })
  if (!resp.ok || !resp.body) throw new Error(`the server answered ${resp.status}`)
  const plain = await d.decrypt(resp.body)
  const e = new Encrypter()
  for (const r of recipients) e.addRecipient(r)
  // The browser keeps large blobs on disk: they are ciphertext.
  return new Response(await e.encrypt(plain)).blob()
}

// decrypterFor(el) answers a Decrypter for the item el, or null without a
// desk key on this device (keys.decrypterFor): items may be under the
// desk's key, an intake key or the conversation's key.
export function setupTransfer(form, token, decrypterFor) {
  form.hidden = false
  const say = (t) => {
    const s = form.querySelector("[data-transfer-status]")
    if (s) s.textContent = t
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault()
    const option = form.elements.to.selectedOptions[0]
    if (!option) return
    const button = form.querySelector('button[type="submit"]')
    button.disabled = true
    say(form.dataset.msgWorking || "")
    try {
      if (!(await decrypterFor(form))) throw new Error(form.dataset.msgNokey || "no key")
      const desk = (option.dataset.recipients || "").split(/\s+/).filter(Boolean)
      if (desk.length === 0) throw new Error("no recipients")
      const source = form.dataset.sourceRecipient || ""
      const items = Array.from(document.querySelectorAll("li[data-item]"))
      const fd = new FormData()
      fd.append("transfer", JSON.stringify({ to: option.value, items: items.map((li) => Number(li.dataset.item)) }))
      for (const li of items) {
        const to = li.hasAttribute("data-for-source") && source ? [source, ...desk] : desk
        const d = await decrypterFor(li)
        fd.append("object", await reseal(d, li.dataset.url, to), "object.age")
        if (li.dataset.meta) fd.append("meta", await reseal(d, li.dataset.meta, to), "meta.age")
      }
      const resp = await fetch(form.dataset.transfer, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": token },
        body: fd,
      })
      const answer = await resp.json().catch(() => ({}))
      if (!resp.ok || typeof answer.location !== "string" || !answer.location.startsWith("/newsroom/")) {
        throw new Error(answer.error || "refused")
      }
      location.assign(answer.location)
    } catch (err) {
      say((err && err.message && err.message !== "refused" ? err.message + " " : "") + (form.dataset.msgFailed || ""))
      button.disabled = false
    }
  })
}
