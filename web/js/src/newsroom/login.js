// The login page (#login-form): the passphrase is stretched here into an
// authentication key, which is sent, and a wrapping key, which is kept on
// this device for the session (keys.js). The passphrase field has no
// name and the form is submitted only by this script: the passphrase is
// never sent. Also, on every newsroom page: the key status line, and
// forgetting the wrapping key at logout.
import {
  deriveKeys,
  rememberWrapKey,
  forgetWrapKey,
  identity,
  b64encode,
  b64decode,
  postForm,
} from "./keys.js"
import { getAssertion } from "./webauthn.js"

function setupLogin(form) {
  // A visit to the login page forgets any key a previous session left.
  forgetWrapKey()
  const csrf = form.elements.csrf.value
  const status = document.getElementById("login-status")
  const errorBox = document.getElementById("login-error")
  const button = document.getElementById("login-button")
  const keyButton = document.getElementById("login-webauthn")
  const totp = document.getElementById("totp")
  let busy = false

  const say = (text) => (status.textContent = text)
  const fail = (err) => {
    say("")
    errorBox.textContent = (err && err.message) || form.dataset.failed
    errorBox.hidden = false
  }

  async function keysFor(name) {
    const passphrase = document.getElementById("passphrase").value
    const p = await postForm("/newsroom/login/params", { csrf, name })
    say(form.dataset.deriving)
    const k = await deriveKeys(passphrase, b64decode(p.salt), p.kdf)
    say(form.dataset.checking)
    return k
  }

  async function run(fn) {
    if (busy) return
    busy = true
    button.disabled = keyButton.disabled = true
    errorBox.hidden = true
    try {
      const next = await fn()
      location.assign(next)
    } catch (err) {
      fail(err)
      busy = false
      button.disabled = keyButton.disabled = false
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault()
    if (!form.reportValidity()) return
    run(async () => {
      const name = form.elements.name.value
      const k = await keysFor(name)
      const r = await postForm("/newsroom/login", { csrf, name, auth: b64encode(k.auth), totp: totp.value })
      await rememberWrapKey(k.wrapKey)
      return r.next
    })
  })

  if (window.PublicKeyCredential && navigator.credentials) {
    keyButton.hidden = false
    keyButton.addEventListener("click", () => {
      const name = form.elements.name
      const pass = document.getElementById("passphrase")
      if (!name.reportValidity() || !pass.reportValidity()) return
      run(async () => {
        const k = await keysFor(name.value)
        const begin = await postForm("/newsroom/login/webauthn/begin", { csrf, name: name.value, auth: b64encode(k.auth) })
        say(form.dataset.touch)
        const credential = await getAssertion(begin.options)
        say(form.dataset.checking)
        const r = await postForm("/newsroom/login/webauthn/finish", { csrf, state: begin.state, credential })
        await rememberWrapKey(k.wrapKey)
        return r.next
      })
    })
  }
  button.disabled = false
}

// Logout forgets the wrapping key before the form goes.
function setupLogout() {
  for (const form of document.querySelectorAll('form[action^="/newsroom/logout"]')) {
    form.addEventListener("submit", async (e) => {
      if (form.dataset.forgotten) return
      e.preventDefault()
      await forgetWrapKey()
      form.dataset.forgotten = "1"
      form.submit()
    })
  }
}

// The status line under the header says whether the journalist's key is
// unlocked on this device, on every page of a logged-in journalist.
async function showKeyStatus() {
  const line = document.getElementById("key-status")
  if (!line || !document.querySelector('form[action^="/newsroom/logout"]')) return
  try {
    await identity()
    line.textContent = line.dataset.unlocked
    line.classList.remove("locked")
  } catch {
    line.textContent = line.dataset.locked
    line.classList.add("locked")
  }
  if (location.pathname !== "/newsroom/settings") {
    const a = document.createElement("a")
    const lang = new URLSearchParams(location.search).get("lang")
    a.href = "/newsroom/settings" + (lang ? "?lang=" + encodeURIComponent(lang) : "")
    a.textContent = line.dataset.settings
    line.append(" ", a)
  }
  line.hidden = false
}

const form = document.getElementById("login-form")
if (form) setupLogin(form)
setupLogout()
showKeyStatus()
