// age's hybrid post-quantum recipients (mlkem768x25519: ML-KEM-768 and
// X25519 combined as X-Wing, then HPKE's key schedule and
// ChaCha20-Poly1305, as age-encryption's recipients.js and Go's
// filippo.io/age do), made fast enough to sort tens of thousands of
// items in a page:
//
//   - An identity expands its 32-byte seed into ML-KEM and X25519 keys
//     once, not at every stanza it tries (age-encryption expands it each
//     time: most of the cost of opening a header).
//   - X25519 is the browser's own (WebCrypto) where it has it, about ten
//     times faster than JavaScript; noble's otherwise.
//
// Both classes follow age-encryption's Identity and Recipient interfaces:
// a Decrypter takes an Identity (addIdentity), an Encrypter a Recipient
// (addRecipient). The tests (test/hybrid.test.mjs) check them against
// age-encryption's own in both directions.

import { ml_kem768 } from "@noble/post-quantum/ml-kem.js"
import { x25519 } from "@noble/curves/ed25519.js"
import { sha3_256, shake256 } from "@noble/hashes/sha3.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { extract, expand, hkdf } from "@noble/hashes/hkdf.js"
import { hmac } from "@noble/hashes/hmac.js"
import { randomBytes } from "@noble/hashes/utils.js"
import { chacha20poly1305 } from "@noble/ciphers/chacha.js"
import { bech32, base64nopad } from "@scure/base"
// Not exported by the package's index: the header's encoding (the same
// code Encrypter writes headers with).
import { Stanza, encodeHeader, encodeHeaderNoMAC } from "../../node_modules/age-encryption/dist/format.js"

const enc = new TextEncoder()
const STANZA_TYPE = "mlkem768x25519"
const AGE_LABEL = enc.encode("age-encryption.org/mlkem768x25519")
// X-Wing's combiner label, the six bytes \.//^\
const XWING_LABEL = enc.encode("\\.//^\\")
const HPKE_KEM = 0x647a // MLKEM768-X25519
const ML_KEM_CT = 1088
const SHARE = ML_KEM_CT + 32
const ML_KEM_PK = 1184
const RECIPIENT_BYTES = ML_KEM_PK + 32

function concat(...parts) {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

// X25519: WebCrypto's when the browser has it, else noble's.
const PKCS8_X25519 = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20])
let native = null // Promise<boolean>

function hasNative() {
  if (!native) {
    native = (async () => {
      try {
        const subtle = globalThis.crypto && globalThis.crypto.subtle
        if (!subtle) return false
        // A known answer (RFC 7748 §6.1): a browser whose X25519 differs
        // is not used.
        const a = Uint8Array.from(hexBytes("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
        const bPub = Uint8Array.from(hexBytes("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
        const k = await subtle.importKey("pkcs8", concat(PKCS8_X25519, a), { name: "X25519" }, false, ["deriveBits"])
        const p = await subtle.importKey("raw", bPub, { name: "X25519" }, false, [])
        const s = new Uint8Array(await subtle.deriveBits({ name: "X25519", public: p }, k, 256))
        return toHex(s) === "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
      } catch {
        return false
      }
    })()
  }
  return native
}

// nativeX25519 forces (true/false) or restores (null) the choice, for
// the tests of both ways.
export function nativeX25519(v) {
  native = v === null ? null : Promise.resolve(v)
}

function hexBytes(h) {
  const out = []
  for (let i = 0; i < h.length; i += 2) out.push(parseInt(h.slice(i, i + 2), 16))
  return out
}

function toHex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")
}

// A private X25519 key, for DH with any public key.
async function x25519Private(sk) {
  if (await hasNative()) {
    const key = await crypto.subtle.importKey("pkcs8", concat(PKCS8_X25519, sk), { name: "X25519" }, false, ["deriveBits"])
    return async (pub) => {
      const p = await crypto.subtle.importKey("raw", pub, { name: "X25519" }, false, [])
      return new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: p }, key, 256))
    }
  }
  return async (pub) => x25519.getSharedSecret(sk, pub)
}

// An ephemeral X25519 exchange with pub: {share (the ephemeral public
// key), secret}.
async function x25519Ephemeral(pub) {
  if (await hasNative()) {
    const pair = await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"])
    const p = await crypto.subtle.importKey("raw", pub, { name: "X25519" }, false, [])
    const secret = new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: p }, pair.privateKey, 256))
    const share = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey))
    return { share, secret }
  }
  const ek = randomBytes(32)
  return { share: x25519.getPublicKey(ek), secret: x25519.getSharedSecret(ek, pub) }
}

// HPKE (RFC 9180) base mode key schedule, as age uses it.
function hpkeSuite() {
  const s = new Uint8Array(10)
  s.set(enc.encode("HPKE"), 0)
  s[4] = (HPKE_KEM >> 8) & 0xff
  s[5] = HPKE_KEM & 0xff
  s[7] = 0x01 // HKDF-SHA256
  s[9] = 0x03 // ChaCha20Poly1305
  return s
}
const SUITE = hpkeSuite()
const HPKE_V1 = enc.encode("HPKE-v1")

function labeledExtract(salt, label, ikm) {
  return extract(sha256, concat(HPKE_V1, SUITE, enc.encode(label), ikm), salt)
}

function labeledExpand(prk, label, info, length) {
  return expand(sha256, prk, concat(Uint8Array.from([(length >> 8) & 0xff, length & 0xff]), HPKE_V1, SUITE, enc.encode(label), info), length)
}

// The key schedule's context is the same for every stanza: mode base, no
// PSK, age's label as info.
let ksContext = null

function hpkeContext(sharedSecret) {
  if (!ksContext) {
    const pskIDHash = labeledExtract(undefined, "psk_id_hash", new Uint8Array(0))
    const infoHash = labeledExtract(undefined, "info_hash", AGE_LABEL)
    ksContext = concat(Uint8Array.of(0), pskIDHash, infoHash)
  }
  const secret = labeledExtract(sharedSecret, "secret", new Uint8Array(0))
  return { key: labeledExpand(secret, "key", ksContext, 32), nonce: labeledExpand(secret, "base_nonce", ksContext, 12) }
}

// xwingSecret is X-Wing's combiner.
function xwingSecret(ssM, ssX, ctX, pkX) {
  return sha3_256(concat(ssM, ssX, ctX, pkX, XWING_LABEL))
}

// identitySeed decodes AGE-SECRET-KEY-PQ-1… into its 32-byte seed.
export function identitySeed(s) {
  s = String(s).trim()
  const res = bech32.decodeToBytes(s)
  if (!s.startsWith("AGE-SECRET-KEY-PQ-1") || res.prefix.toUpperCase() !== "AGE-SECRET-KEY-PQ-" || res.bytes.length !== 32) {
    throw new Error("invalid identity")
  }
  return res.bytes
}

// recipientBytes decodes age1pq1… into its 1216 bytes.
function recipientBytes(s) {
  const { prefix, words } = bech32.decode(s, false)
  const bytes = bech32.fromWords(words)
  if (!s.startsWith("age1pq1") || prefix.toLowerCase() !== "age1pq" || bytes.length !== RECIPIENT_BYTES) {
    throw new Error("invalid recipient")
  }
  return Uint8Array.from(bytes)
}

// HybridIdentity opens mlkem768x25519 stanzas; its keys are expanded on
// first use and kept.
export class HybridIdentity {
  constructor(s) {
    this.seed = identitySeed(s)
    this.keys = null
  }

  expanded() {
    if (!this.keys) {
      this.keys = (async () => {
        const x = shake256(this.seed, { dkLen: 96 })
        const m = ml_kem768.keygen(x.subarray(0, 64))
        const skX = x.slice(64, 96)
        const pkX = x25519.getPublicKey(skX)
        return { skM: m.secretKey, pkM: m.publicKey, pkX, dh: await x25519Private(skX) }
      })()
    }
    return this.keys
  }

  // recipient is this identity's age1pq1… string.
  async recipient() {
    const k = await this.expanded()
    return bech32.encode("age1pq", bech32.toWords(concat(k.pkM, k.pkX)), false)
  }

  async unwrapFileKey(stanzas) {
    for (const s of stanzas) {
      if (s.args.length < 1 || s.args[0] !== STANZA_TYPE) continue
      if (s.args.length !== 2) throw new Error("invalid mlkem768x25519 stanza")
      const share = base64nopad.decode(s.args[1])
      if (share.length !== SHARE || s.body.length !== 32) throw new Error("invalid mlkem768x25519 stanza")
      const k = await this.expanded()
      const ssM = ml_kem768.decapsulate(share.subarray(0, ML_KEM_CT), k.skM)
      const ctX = share.subarray(ML_KEM_CT)
      let ssX
      try {
        ssX = await k.dh(ctX)
      } catch {
        continue // a low-order share: not for this identity
      }
      const { key, nonce } = hpkeContext(xwingSecret(ssM, ssX, ctX, k.pkX))
      try {
        return chacha20poly1305(key, nonce).decrypt(s.body)
      } catch {
        continue
      }
    }
    return null
  }
}

// HybridRecipient wraps file keys to an age1pq1… recipient.
export class HybridRecipient {
  constructor(s) {
    const b = recipientBytes(s)
    this.string = s
    this.pkM = b.subarray(0, ML_KEM_PK)
    this.pkX = b.subarray(ML_KEM_PK)
  }

  async wrapFileKey(fileKey) {
    const { cipherText: ctM, sharedSecret: ssM } = ml_kem768.encapsulate(this.pkM, randomBytes(32))
    const { share: ctX, secret: ssX } = await x25519Ephemeral(this.pkX)
    const { key, nonce } = hpkeContext(xwingSecret(ssM, ssX, ctX, this.pkX))
    const body = chacha20poly1305(key, nonce).encrypt(fileKey)
    return [new Stanza([STANZA_TYPE, base64nopad.encode(concat(ctM, ctX))], body)]
  }
}

// headerEnd is the length of the age header at the start of file (up to
// and including the line that starts with "---"), or -1.
export function headerEnd(file) {
  const max = Math.min(file.length, 64 << 10)
  let line = 0
  for (let i = 0; i < max; i++) {
    if (file[i] !== 0x0a) continue
    if (file[line] === 0x2d && file[line + 1] === 0x2d && file[line + 2] === 0x2d) return i + 1
    line = i + 1
  }
  return -1
}

// rewrap makes a new header for the file whose header is header: the
// file key, opened by decrypter (an age-encryption Decrypter), wrapped to
// recipients (Recipient objects), with the header's MAC under that key.
// What follows the header is unchanged: the payload is encrypted with the
// file key alone.
export async function rewrap(header, decrypter, recipients) {
  if (recipients.length === 0) throw new Error("no recipient")
  const fileKey = await decrypter.decryptHeader(header)
  try {
    const stanzas = []
    for (const r of recipients) stanzas.push(...(await r.wrapFileKey(fileKey)))
    const macKey = hkdf(sha256, fileKey, undefined, enc.encode("header"), 32)
    return encodeHeader(stanzas, hmac(sha256, macKey, encodeHeaderNoMAC(stanzas)))
  } finally {
    fileKey.fill(0)
  }
}

export { concat }
