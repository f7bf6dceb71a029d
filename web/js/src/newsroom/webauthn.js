// WebAuthn in the browser: the server's options are JSON (go-webauthn,
// base64url for binary fields); the browser API wants ArrayBuffers, and
// the server wants the answer as JSON again.
function fromB64url(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4)
  const bin = atob(b64)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

function toB64url(buf) {
  const bytes = new Uint8Array(buf)
  let s = ""
  for (const b of bytes) s += String.fromCharCode(b)
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
}

const descriptors = (list) => (list || []).map((c) => ({ ...c, id: fromB64url(c.id) }))

// getAssertion asks an authenticator to sign in; returns the answer as JSON text.
export async function getAssertion(options) {
  const publicKey = { ...options, challenge: fromB64url(options.challenge), allowCredentials: descriptors(options.allowCredentials) }
  const c = await navigator.credentials.get({ publicKey })
  return JSON.stringify({
    id: c.id,
    rawId: toB64url(c.rawId),
    type: c.type,
    response: {
      authenticatorData: toB64url(c.response.authenticatorData),
      clientDataJSON: toB64url(c.response.clientDataJSON),
      signature: toB64url(c.response.signature),
      userHandle: c.response.userHandle ? toB64url(c.response.userHandle) : undefined,
    },
    clientExtensionResults: c.getClientExtensionResults(),
  })
}

// createCredential registers an authenticator; returns the answer as JSON text.
export async function createCredential(options) {
  const publicKey = {
    ...options,
    challenge: fromB64url(options.challenge),
    user: { ...options.user, id: fromB64url(options.user.id) },
    excludeCredentials: descriptors(options.excludeCredentials),
  }
  const c = await navigator.credentials.create({ publicKey })
  return JSON.stringify({
    id: c.id,
    rawId: toB64url(c.rawId),
    type: c.type,
    response: {
      attestationObject: toB64url(c.response.attestationObject),
      clientDataJSON: toB64url(c.response.clientDataJSON),
      transports: c.response.getTransports ? c.response.getTransports() : [],
    },
    clientExtensionResults: c.getClientExtensionResults(),
  })
}
