// The journalist's keys in the browser, shared by every newsroom module.
//
// A passphrase is stretched here exactly as package keys does in Go:
//
//   master = Argon2id(passphrase, salt, kdf's m, t, p; 32 bytes)   (hash-wasm)
//   auth   = HKDF-SHA-256(master, salt "", info "pista/v1/journalist-auth", 32 bytes)
//   wrap   = HKDF-SHA-256(master, salt "", info "pista/v1/journalist-wrap", 32 bytes)
//
// Only auth is sent to the server. wrap becomes a non-extractable AES-GCM
// CryptoKey: script cannot read its bytes, only use it. It is kept in this
// origin's IndexedDB for the session (rememberWrapKey) so that each page
// can unwrap the journalist's identity without asking for the passphrase
// again, and forgotten at logout and on the login page (forgetWrapKey).
// The identity is sealed with it as AES-256-GCM, a random 12-byte nonce
// first, additional data "pista/v1/journalist-identity".
//
// Forward secrecy (docs/forward-secrecy.md): an item may be under its
// desk's key, a day's intake key or its conversation's key. The intake
// keys (GET /newsroom/fs/keys) and a conversation's key (data-conv-key on
// the page, and in the JSON that lists items) are sealed to the desk's
// key: they are opened here with the desk identities, and decrypterFor
// puts first the key an element says opens it (data-sealing,
// data-intake-key), then every other, since the sorter may have moved an
// item since the page was made.
import { argon2id } from "hash-wasm"
import { Decrypter } from "age-encryption"
import * as fs from "./fs.js"

const AUTH_LABEL = "pista/v1/journalist-auth"
const WRAP_LABEL = "pista/v1/journalist-wrap"
const IDENTITY_AAD = "pista/v1/journalist-identity"

const enc = new TextEncoder()
const dec = new TextDecoder()

// parseKDF reads "argon2id$v=19$m=65536,t=3,p=1" within the bounds Go's
// keys.ParseKDF accepts, so that a server cannot make the browser spend
// more than 1 GiB, nor talk it into a trivial stretch.
export function parseKDF(kdf) {
  const m = /^argon2id\$v=19\$m=([1-9][0-9]*),t=([1-9][0-9]*),p=([1-9][0-9]*)$/.exec(kdf || "")
  if (!m) throw new Error("unsupported key derivation parameters")
  const memory = Number(m[1]), time = Number(m[2]), threads = Number(m[3])
  if (memory < 19 * 1024 || memory > 1024 * 1024 || time > 16 || threads > 16) {
    throw new Error("unsupported key derivation parameters")
  }
  return { memory, time, threads }
}

// deriveKeys stretches a passphrase: {auth: 32 bytes to send, wrapKey: a
// non-extractable AES-GCM CryptoKey that never leaves the browser}.
export async function deriveKeys(passphrase, salt, kdf) {
  const k = parseKDF(kdf)
  const master = await argon2id({
    password: passphrase,
    salt,
    parallelism: k.threads,
    iterations: k.time,
    memorySize: k.memory,
    hashLength: 32,
    outputType: "binary",
  })
  const base = await crypto.subtle.importKey("raw", master, "HKDF", false, ["deriveBits", "deriveKey"])
  master.fill(0)
  const hkdf = (label) => ({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: enc.encode(label) })
  const auth = new Uint8Array(await crypto.subtle.deriveBits(hkdf(AUTH_LABEL), base, 256))
  const wrapKey = await crypto.subtle.deriveKey(hkdf(WRAP_LABEL), base, { name: "AES-GCM", length: 256 }, false, [
    "encrypt",
    "decrypt",
  ])
  return { auth, wrapKey }
}

// wrapIdentity seals an identity string: nonce ‖ AES-GCM ciphertext.
export async function wrapIdentity(wrapKey, identityString) {
  const nonce = crypto.getRandomValues(new Uint8Array(12))
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: enc.encode(IDENTITY_AAD) },
    wrapKey,
    enc.encode(identityString),
  )
  const out = new Uint8Array(12 + sealed.byteLength)
  out.set(nonce)
  out.set(new Uint8Array(sealed), 12)
  return out
}

// unwrapIdentity opens what wrapIdentity sealed; a wrong key is an Error
// that says so.
export async function unwrapIdentity(wrapKey, bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length < 12 + 16 || bytes.length > 4096) {
    throw new Error("the wrapped identity is damaged")
  }
  let plain
  try {
    plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: bytes.subarray(0, 12), additionalData: enc.encode(IDENTITY_AAD) },
      wrapKey,
      bytes.subarray(12),
    )
  } catch {
    throw new Error("this passphrase does not open the identity")
  }
  return dec.decode(plain).trim()
}

// The wrapping key's place on this device: one IndexedDB record.
const DB = "pista-newsroom"
const STORE = "keys"
const WRAP = "wrap"

function openDB() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1)
    req.onupgradeneeded = () => req.result.createObjectStore(STORE)
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

async function withStore(mode, fn) {
  const db = await openDB()
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode)
      const req = fn(tx.objectStore(STORE))
      tx.oncomplete = () => resolve(req.result)
      tx.onerror = () => reject(tx.error)
      tx.onabort = () => reject(tx.error)
    })
  } finally {
    db.close()
  }
}

// rememberWrapKey keeps the (non-extractable) wrapping key on this device
// until forgetWrapKey.
export async function rememberWrapKey(wrapKey) {
  cached = null
  await withStore("readwrite", (s) => s.put(wrapKey, WRAP))
}

// forgetWrapKey removes the wrapping key and what it unwrapped.
export async function forgetWrapKey() {
  cached = null
  desks = null
  intake = null
  convKeys.clear()
  try {
    await withStore("readwrite", (s) => s.delete(WRAP))
  } catch {
    // no IndexedDB (a private window may refuse it): nothing was kept
  }
}

async function recalledWrapKey() {
  try {
    return (await withStore("readonly", (s) => s.get(WRAP))) || null
  } catch {
    return null
  }
}

// csrfToken is the page's CSRF token, from <meta name="csrf-token">.
export function csrfToken() {
  const m = document.querySelector('meta[name="csrf-token"]')
  return m ? m.content : ""
}

// b64encode and b64decode are fs.js's, for the inbox's other modules.
export const b64encode = fs.b64encode
export const b64decode = fs.b64decode

// postForm posts fields as a urlencoded form (add csrf: csrfToken()) to a
// newsroom route that answers JSON, keeping the page's ?lang= so that
// errors come in its language. A refusal throws an Error whose message is
// the server's sentence ("" if none) and whose status is the HTTP status.
export async function postForm(path, fields) {
  const lang = new URLSearchParams(location.search).get("lang")
  const resp = await fetch(path + (lang ? "?lang=" + encodeURIComponent(lang) : ""), {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams(fields),
  })
  let data = {}
  try {
    data = await resp.json()
  } catch {
    // an HTML error page: the caller's generic message
  }
  if (!resp.ok) {
    const err = new Error(data.error || "")
    err.status = resp.status
    throw err
  }
  return data
}

async function getJSON(path) {
  const resp = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } })
  if (!resp.ok) throw new Error(`the server answered ${resp.status} for ${path}`)
  return resp.json()
}

let cached = null // Promise<string> of the unwrapped identity
let desks = null // Promise of deskIdentities()

// identity returns the journalist's age identity (AGE-SECRET-KEY-PQ-1…),
// unwrapped on this device with the remembered wrapping key.
export function identity() {
  if (!cached) {
    cached = (async () => {
      const wrapKey = await recalledWrapKey()
      if (!wrapKey) {
        throw new Error("your key is not on this device: log out and log in again with your passphrase")
      }
      const me = await getJSON("/newsroom/me/identity")
      if (!me.wrapped) {
        throw new Error("your identity is not stored with your account: import it on the settings page")
      }
      return unwrapIdentity(wrapKey, b64decode(me.wrapped))
    })()
    cached.catch(() => {
      cached = null
    })
  }
  return cached
}

// deskIdentities returns the desk keys wrapped to the journalist, each
// decrypted: [{desk, keyId, recipient, identity}], every key generation.
// recipient is what the identity gives, not what the server said.
export function deskIdentities() {
  if (!desks) {
    desks = (async () => {
      const id = await identity()
      const list = await getJSON("/newsroom/me/keys")
      const out = []
      for (const k of list.keys || []) {
        const d = new Decrypter()
        d.addIdentity(id)
        const deskId = (await d.decrypt(b64decode(k.wrapped), "text")).trim()
        let hybrid = null
        try {
          hybrid = new fs.HybridIdentity(deskId)
        } catch {
          // an older kind of key: age-encryption's own opens it
        }
        const recipient = hybrid ? await hybrid.recipient() : k.recipient
        out.push({ desk: k.desk, keyId: k.key_id, recipient, identity: deskId, hybrid })
      }
      return out
    })()
    desks.catch(() => {
      desks = null
    })
  }
  return desks
}

let intake = null // Promise<Map<intake key ID, HybridIdentity>>
const convKeys = new Map() // sealed key (base64) → Promise<HybridIdentity | null>

// deskKeys are the desk identities as a Decrypter takes them.
function deskKeys(list) {
  return list.map((k) => k.hybrid || k.identity)
}

// intakeIdentities opens the live intake keys of the journalist's desks
// (GET /newsroom/fs/keys), each with the desk key generation that sealed
// it: a Map from intake key ID. Empty where the server has none.
export function intakeIdentities() {
  if (!intake) {
    intake = (async () => {
      const out = new Map()
      const list = await deskIdentities()
      let info
      try {
        info = await getJSON("/newsroom/fs/keys")
      } catch {
        return out // no forward secrecy here (yet)
      }
      for (const k of info.intake || []) {
        if (!k.sealed) continue
        const gen = list.filter((d) => d.keyId === k.desk_key_id)
        try {
          out.set(k.id, new fs.HybridIdentity(await fs.open(b64decode(k.sealed), deskKeys(gen.length ? gen : list))))
        } catch {
          // sealed to a key this device lacks
        }
      }
      return out
    })()
    intake.catch(() => {
      intake = null
    })
  }
  return intake
}

// conversationIdentity opens a conversation's key (sealed to its desk's
// key, base64) with the desk identities; null if none opens it.
export function conversationIdentity(sealed) {
  if (!sealed) return Promise.resolve(null)
  let p = convKeys.get(sealed)
  if (!p) {
    p = (async () => {
      try {
        return new fs.HybridIdentity(await fs.open(b64decode(sealed), deskKeys(await deskIdentities())))
      } catch {
        return null
      }
    })()
    convKeys.set(sealed, p)
  }
  return p
}

// deskDecrypter returns a Decrypter with every key of this device that
// may open an item, or null if there is no desk key here. hints put
// first what opens it: {sealing: "desk"|"intake"|"conv", intakeKey: ID,
// convKey: the conversation's sealed key}. Without a convKey, the
// conversation page's (#conversation[data-conv-key]) is taken.
export async function deskDecrypter(hints = {}) {
  let list
  try {
    list = await deskIdentities()
  } catch {
    return null
  }
  if (!list || list.length === 0) return null
  const desk = deskKeys(list)
  let intakes = new Map()
  try {
    intakes = await intakeIdentities()
  } catch {
    // the desk keys still open what is under them
  }
  const conv = []
  let convKey = hints.convKey
  if (!convKey && typeof document !== "undefined") {
    const page = document.querySelector("#conversation[data-conv-key]")
    if (page) convKey = page.dataset.convKey
  }
  if (convKey) {
    const k = await conversationIdentity(convKey)
    if (k) conv.push(k)
  }
  const one = intakes.get(Number(hints.intakeKey))
  const others = [...intakes.values()].filter((k) => k !== one)
  let order
  if (hints.sealing === "intake") order = [one, ...conv, ...desk, ...others]
  else if (hints.sealing === "desk") order = [...desk, ...conv, one, ...others]
  else order = [...conv, one, ...desk, ...others]
  const d = new Decrypter()
  for (const k of order) if (k) d.addIdentity(k)
  return d
}

// decrypterFor is deskDecrypter with the hints an element of the page
// carries: its data-sealing and data-intake-key, and the data-conv-key of
// it or the nearest element around it that has one.
export function decrypterFor(el) {
  const convEl = el && el.closest ? el.closest("[data-conv-key]") : null
  const ds = (el && el.dataset) || {}
  return deskDecrypter({
    sealing: ds.sealing || "",
    intakeKey: ds.intakeKey || "",
    convKey: convEl ? convEl.dataset.convKey : "",
  })
}
