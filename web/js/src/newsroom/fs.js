// Forward secrecy's keys in the browser, as package forward makes them in
// Go (docs/forward-secrecy.md): a desk key generation's signing key, the
// statement it signs for an intake key, and keys sealed to a desk (an age
// file whose plaintext is an identity string). Shared by the inbox's
// pages (keys.js) and the sorter's Worker (sorter.worker.js); nothing
// here touches the page.

import { Decrypter, Encrypter, generateHybridIdentity, identityToRecipient } from "age-encryption"
import { ed25519 } from "@noble/curves/ed25519.js"
import { hkdf } from "@noble/hashes/hkdf.js"
import { sha256 } from "@noble/hashes/sha2.js"
import { HybridIdentity, HybridRecipient } from "./hybrid.js"

const enc = new TextEncoder()

// SIGN_INFO is forward.signInfo.
const SIGN_INFO = "pista/v1/desk-sign"

// maxSealed is forward.MaxSealedSize.
const maxSealed = 64 << 10

// signKey derives a desk key generation's Ed25519 key from its identity
// string (forward.SignKey): HKDF-SHA-256(identity, salt empty, info
// "pista/v1/desk-sign") is the 32-byte seed. {seed, publicKey}.
export function signKey(deskIdentity) {
  const seed = hkdf(sha256, enc.encode(String(deskIdentity).trim()), undefined, enc.encode(SIGN_INFO), 32)
  return { seed, publicKey: ed25519.getPublicKey(seed) }
}

// statement is forward.Statement: what the signing key signs for an
// intake key.
export function statement(deskRecipient, day, intakeRecipient) {
  return enc.encode("pista/v1/intake-key\n" + deskRecipient + "\n" + String(day) + "\n" + intakeRecipient + "\n")
}

// verifyIntake checks an intake key's signature by signPub (32 bytes).
export function verifyIntake(signPub, deskRecipient, day, intakeRecipient, sig) {
  if (!(signPub instanceof Uint8Array) || signPub.length !== 32 || !(sig instanceof Uint8Array) || sig.length !== 64) return false
  try {
    return ed25519.verify(sig, statement(deskRecipient, day, intakeRecipient), signPub)
  } catch {
    return false
  }
}

// conversationStatement is forward.ConversationStatement: what the
// signing key signs for a conversation key.
export function conversationStatement(deskRecipient, conversation, keyRecipient) {
  return enc.encode("pista/v1/conversation-key\n" + deskRecipient + "\n" + conversation + "\n" + keyRecipient + "\n")
}

// signConversationKey signs a conversation key with sign (signKey of the
// desk generation deskRecipient): forward.SignConversationKey.
export function signConversationKey(sign, deskRecipient, conversation, keyRecipient) {
  return ed25519.sign(conversationStatement(deskRecipient, conversation, keyRecipient), sign.seed)
}

// verifyConversationKey checks a conversation key's signature by signPub
// (32 bytes), the signing key of desk generation deskRecipient.
export function verifyConversationKey(signPub, deskRecipient, conversation, keyRecipient, sig) {
  if (!(signPub instanceof Uint8Array) || signPub.length !== 32 || !(sig instanceof Uint8Array) || sig.length !== 64) return false
  try {
    return ed25519.verify(sig, conversationStatement(deskRecipient, conversation, keyRecipient), signPub)
  } catch {
    return false
  }
}

// seal encrypts an identity string to recipients (forward.Seal).
export async function seal(identity, recipients) {
  const e = new Encrypter()
  for (const r of recipients) e.addRecipient(typeof r === "string" ? new HybridRecipient(r) : r)
  return e.encrypt(identity)
}

// open opens a sealed key with identities (HybridIdentity objects or
// identity strings) and answers its identity string (forward.Open).
export async function open(sealed, identities) {
  if (!(sealed instanceof Uint8Array) || sealed.length > maxSealed) throw new Error("sealed key too large")
  const d = new Decrypter()
  for (const id of identities) d.addIdentity(id)
  const s = (await d.decrypt(sealed, "text")).trim()
  if (s.length > 1024 || !s.startsWith("AGE-SECRET-KEY-PQ-1")) throw new Error("not a sealed key")
  return s
}

// newKey makes a fresh hybrid identity: {identity, recipient}.
export async function newKey() {
  const identity = await generateHybridIdentity()
  return { identity, recipient: await identityToRecipient(identity) }
}

// makeIntakeKey makes desk generation desk's intake key for day
// (forward.MakeIntakeKey): {day, recipient, signature, sealed, identity}.
// desk is {identity, recipient}.
export async function makeIntakeKey(desk, day, sign) {
  const k = await newKey()
  const signature = ed25519.sign(statement(desk.recipient, day, k.recipient), sign.seed)
  const sealed = await seal(k.identity, [desk.recipient])
  return { day, recipient: k.recipient, signature, sealed, identity: k.identity }
}

export function b64encode(bytes) {
  let s = ""
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000))
  }
  return btoa(s)
}

export function b64decode(str) {
  const s = atob(str)
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
  return out
}

export function sameBytes(a, b) {
  if (a.length !== b.length) return false
  let x = 0
  for (let i = 0; i < a.length; i++) x |= a[i] ^ b[i]
  return x === 0
}

export { HybridIdentity, HybridRecipient }
