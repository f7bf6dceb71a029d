// The settings page (#settings): change the passphrase (the identity is
// unwrapped with the old key and re-wrapped with the new one, here), import
// an identity file made on the command line, download the identity, and
// register security keys. The server gets only derived keys and the
// wrapped identity.
import { identityToRecipient } from "age-encryption"
import {
  deriveKeys,
  wrapIdentity,
  unwrapIdentity,
  rememberWrapKey,
  identity,
  csrfToken,
  b64encode,
  b64decode,
  postForm,
} from "./keys.js"
import { createCredential } from "./webauthn.js"

const MIN_PASSPHRASE = 12

function setup(root) {
  const d = root.dataset
  const csrf = csrfToken()

  // run disables a form's button while fn runs and shows its outcome.
  function handle(form, fn) {
    const button = form.querySelector("button[type=submit]")
    const status = form.querySelector(".status")
    const say = (text, isError) => {
      status.textContent = text
      status.classList.toggle("error", !!isError)
    }
    form.addEventListener("submit", async (e) => {
      e.preventDefault()
      if (!form.reportValidity()) return
      button.disabled = true
      try {
        say(await fn(say), false)
        form.reset()
      } catch (err) {
        say((err && err.message) || d.failed, true)
      } finally {
        button.disabled = false
      }
    })
    button.disabled = false
  }

  const passForm = document.getElementById("passphrase-form")
  if (passForm) {
    handle(passForm, async (say) => {
      const oldPass = document.getElementById("old-passphrase").value
      const newPass = document.getElementById("new-passphrase").value
      if (newPass !== document.getElementById("new-passphrase2").value) throw new Error(d.nomatch)
      if ([...newPass].length < MIN_PASSPHRASE) throw new Error(d.short)
      const me = await (await fetch("/newsroom/me/identity", { credentials: "same-origin" })).json()
      const p = await accountParams()
      say(d.deriving)
      const old = await deriveKeys(oldPass, b64decode(p.salt), p.kdf)
      let id = ""
      if (me.wrapped) {
        // A wrong current passphrase shows here, before the server's check.
        try {
          id = await unwrapIdentity(old.wrapKey, b64decode(me.wrapped))
        } catch {
          throw new Error(d.wrongpassphrase)
        }
      }
      const salt = crypto.getRandomValues(new Uint8Array(16))
      const kdf = "argon2id$v=19$m=65536,t=3,p=1"
      const fresh = await deriveKeys(newPass, salt, kdf)
      const fields = { csrf, old_auth: b64encode(old.auth), salt: b64encode(salt), kdf, auth: b64encode(fresh.auth), wrapped: "" }
      if (id) fields.wrapped = b64encode(await wrapIdentity(fresh.wrapKey, id))
      await postForm("/newsroom/settings/passphrase", fields)
      await rememberWrapKey(fresh.wrapKey)
      return d.changed
    })
  }

  const importForm = document.getElementById("import-form")
  if (importForm) {
    handle(importForm, async (say) => {
      const file = document.getElementById("identity-file").files[0]
      if (!file || file.size > 64 * 1024) throw new Error(d.notidentity)
      const m = /AGE-SECRET-KEY-PQ-1[0-9A-Z]+/.exec(await file.text())
      if (!m) throw new Error(d.notidentity)
      const id = m[0]
      let recipient
      try {
        recipient = await identityToRecipient(id)
      } catch {
        throw new Error(d.notidentity)
      }
      if (recipient !== d.recipient) throw new Error(d.mismatch)
      const p = await accountParams()
      say(d.deriving)
      const k = await deriveKeys(document.getElementById("import-passphrase").value, b64decode(p.salt), p.kdf)
      await postForm("/newsroom/settings/identity", { csrf, auth: b64encode(k.auth), wrapped: b64encode(await wrapIdentity(k.wrapKey, id)) })
      await rememberWrapKey(k.wrapKey)
      return d.imported
    })
  }

  const exportButton = document.getElementById("export-identity")
  if (exportButton) {
    const status = document.getElementById("export-status")
    exportButton.addEventListener("click", async () => {
      try {
        const id = await identity()
        const recipient = await identityToRecipient(id)
        const text = `# pista identity of ${d.name}\n# public key: ${recipient}\n${id}\n`
        const url = URL.createObjectURL(new Blob([text], { type: "application/octet-stream" }))
        const a = document.createElement("a")
        a.href = url
        a.download = `${d.name}.key`
        document.body.append(a)
        a.click()
        a.remove()
        setTimeout(() => URL.revokeObjectURL(url), 1000)
        postForm("/newsroom/settings/exported", { csrf }).catch(() => {})
        status.textContent = ""
      } catch (err) {
        status.textContent = err.message
      }
    })
    exportButton.disabled = false
  }

  // Adding or removing a security key asks for the passphrase again: the
  // server gets the authentication key it makes, as at login.
  const confirmField = document.getElementById("confirm-passphrase")
  async function confirmAuth(say) {
    if (!confirmField.value) {
      confirmField.focus()
      throw new Error(d.confirm)
    }
    const p = await accountParams()
    say(d.deriving)
    const k = await deriveKeys(confirmField.value, b64decode(p.salt), p.kdf)
    return b64encode(k.auth)
  }

  const keyForm = document.getElementById("webauthn-form")
  if (keyForm && window.PublicKeyCredential) {
    handle(keyForm, async (say) => {
      const name = document.getElementById("key-name").value
      const auth = await confirmAuth(say)
      const begin = await postForm("/newsroom/settings/webauthn/begin", { csrf, auth })
      say(d.touch)
      const credential = await createCredential(begin.options)
      await postForm("/newsroom/settings/webauthn/finish", { csrf, state: begin.state, name, credential })
      confirmField.value = ""
      setTimeout(() => location.reload(), 800)
      return d.added
    })
  }

  const keysStatus = document.getElementById("keys-status")
  for (const form of document.querySelectorAll("form.key-delete")) {
    form.addEventListener("submit", async (e) => {
      e.preventDefault()
      const button = form.querySelector("button")
      button.disabled = true
      const say = (text, isError) => {
        keysStatus.textContent = text
        keysStatus.classList.toggle("error", !!isError)
      }
      try {
        const auth = await confirmAuth(say)
        const r = await postForm("/newsroom/settings/webauthn/delete", { csrf, id: form.elements.id.value, auth })
        location.assign(r.next)
      } catch (err) {
        say((err && err.message) || d.failed, true)
        button.disabled = false
      }
    })
  }

  // The account's salt and parameters (the login route wants an
  // anonymous token; this page has its session's).
  async function accountParams() {
    return postForm("/newsroom/settings/params", { csrf })
  }
}

const root = document.getElementById("settings")
if (root) setup(root)
