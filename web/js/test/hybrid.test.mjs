// node --test test/: the fast hybrid identity and recipient against
// age-encryption's own, both ways, with WebCrypto's X25519 and noble's.
import { test } from "node:test"
import assert from "node:assert/strict"
import { Decrypter, Encrypter, generateHybridIdentity, identityToRecipient } from "age-encryption"
import { HybridIdentity, HybridRecipient, headerEnd, rewrap, nativeX25519, concat } from "../src/newsroom/hybrid.js"

for (const native of [true, false]) {
  test(`hybrid recipients and identities, ${native ? "WebCrypto" : "noble"} X25519`, async () => {
    nativeX25519(native)
    try {
      const a = await generateHybridIdentity()
      const b = await generateHybridIdentity()
      const aRec = await identityToRecipient(a)
      const bRec = await identityToRecipient(b)
      assert.equal(await new HybridIdentity(a).recipient(), aRec)

      // age-encryption encrypts, ours opens; and the other way.
      const e = new Encrypter()
      e.addRecipient(bRec)
      e.addRecipient(aRec)
      const file = await e.encrypt("the port authority's invoices")
      const mine = new Decrypter()
      mine.addIdentity(new HybridIdentity(a))
      assert.equal(await mine.decrypt(file, "text"), "the port authority's invoices")
      const other = new Decrypter()
      other.addIdentity(new HybridIdentity(await generateHybridIdentity()))
      await assert.rejects(other.decrypt(file, "text"))

      const e2 = new Encrypter()
      e2.addRecipient(new HybridRecipient(aRec))
      const file2 = await e2.encrypt("second")
      const stock = new Decrypter()
      stock.addIdentity(a)
      assert.equal(await stock.decrypt(file2, "text"), "second")

      // Rewrapping: the same payload, a new header for b and a third key;
      // age-encryption's Decrypter opens it with either, not with a.
      const c = await generateHybridIdentity()
      const n = headerEnd(file)
      assert.ok(n > 0)
      assert.equal(new TextDecoder().decode(file.subarray(n - 48, n - 45)), "---")
      const header = await rewrap(file.subarray(0, n), mine, [new HybridRecipient(bRec), new HybridRecipient(await identityToRecipient(c))])
      const moved = concat(header, file.subarray(n))
      for (const id of [b, c]) {
        const d = new Decrypter()
        d.addIdentity(id)
        assert.equal(await d.decrypt(moved, "text"), "the port authority's invoices")
      }
      const old = new Decrypter()
      old.addIdentity(a)
      await assert.rejects(old.decrypt(moved, "text"))
      // A header the decrypter cannot open is refused.
      await assert.rejects(rewrap(file.subarray(0, n), other, [new HybridRecipient(bRec)]))
    } finally {
      nativeX25519(null)
    }
  })
}
