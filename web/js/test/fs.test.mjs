// node --test test/: forward secrecy's keys as Go's package forward makes
// them (the vector below comes from forward.SignKey and forward.Statement).
import { test } from "node:test"
import assert from "node:assert/strict"
import { identityToRecipient } from "age-encryption"
import { signKey, verifyIntake, makeIntakeKey, open, seal, newKey, HybridIdentity, signConversationKey, verifyConversationKey } from "../src/newsroom/fs.js"

// A throwaway desk identity, its signing key's public half by Go, an
// intake recipient and Go's signature of its statement for day 20428.
const deskIdentity = "AGE-SECRET-KEY-PQ-10DKCSLW0UVLSDGPXYQZA8G82PHAKD58CZF62PZ2SAV77NRH779HSQQMNRF"
const goSignPub = "4ebb766c42d89efee69a20154184b91039c40a37d43fe08685015bce55c31c9e"
const intakeRecipient = "age1pq1gqj9p3rtjx6kcppyy4pul6ul7rqkvqnmc0t93p4q7shw3pu286e5h0c5tv5e4nav6hqz9wsazytqtgz8t97ayxekwa63ws6h8t66ztac9p2aj9y9s9ve4s2zmksfu5vs8rfxnx2ww63hdaapv362mclczpws3zqpvu2vujpt5atm8yv4pug0p823az2gsxgytkdy50dhyf7x50nhh9fwxgtnl8f4fek53exvxanlq3hrj7340fv8mtyfx60xyw7v93t9we4mh9wzx9ykhzgm4yjz237qgv6ajsj42qdxet63y6w2ucfs974navwrqht44utw56gcu5ghqy5rpcx2ze989rlzcwd5w3z6xcaywfr4zvsxf2e9hr0yaqggle92mldezjvh94zugzs34wjregnwg6dh8p36n2ez3smr3q3ehutjd2rp99rsx06zjp84geehywtdy3j8axvk08uc9sfntse9g9tn3saxj4trq2lw9fqqjvtvtexyrcamqqpsy45y9nhek34n4wwfxspcd4rkdku22z5e0s4wg3tm4h4q9ceft3509rlpznxldyf4mwpen5d4898nv75l2wtwujek4cyzyckj2x8tcl7mu25hskyshlvty38tk3cck7p5x7qfg2czzfduy3kskvghxdqakq8dh6y9ac527jchnrddzdxaw3f0fpn27kxyljry3dp5zfln53dvr5x2v3r3srps2uhrpnr5uafedk3jwf4sktf2y3chku89uyj0lf5zjymg2e462jf5xn5k0zf95dkfr2rkecxm0d8ywmk84vvktfgzzsee706jy9dxhxav2ethzv6fmckzy5yxce4lqc9q7gxlgdfxaf7r4wfqd55cfdg52pnmlpyexvuqv979d6hxk2w5wwmq9rx8yqxg3k980q9xpxcvt34yd2wp5nvuw98yvzytycz2xczqdaswae3ugk4g28u209gead3dt9nk6pp8hmtyxme35nftxx5xskerdznvwnv6pdq5j3qxf88fzp2fv94gtv5jnqygtq9mppx4ay32743fwner5ar2n9a9rw7ggf38mdphen3zxhs6jlac2c2hgkccqyze72ur8h4hq72lt2z422ar9ld4u0tz2mpkhnasgwuvw5vtwsd4wr8tq67utrcfq79hx3fyfapu4jn392ecxck5752yg759p7schczc8rc4dgewzf6z23rym9euc3fy90nhtx0fhfeumuxqfy425s32x9tmwt63lzzx8vq5d33ua0a8jvlyt2sjs5yupvq3s8vjp5euq8jxkgs08qkf83cfxqqy8ea3pwaucl32ukhkazmp0a9pjwpmre5njhs5k5g7hdqwgx2jlheefvs7xt8mwjd9r7jdw5wx9tvh5acdjehwmv3vj2a3zfkvk4xjdkpm0g9j6uxkd3nfwzmy40f4zt3xx6d76ccfnwjaezcnycvt8h6sg9a8j9q8w53zepkx035mtuqg085akzlg2snj5f48axhhsgcd59c6jzz694spn7sjkr52dep948sgv3x2nvvgxvavw5y4xftfpsn79vun5ryuahm6yr8ywrv6vy3s2q7j56cedspyy4jphujfvknugxsppjrfwmgtgc2ssghqegr66udv9yesgn6je5jfwzaprtmkq4f2qpgv737290uq4s5e4vmgk5lfd2sa79uxmdgxvktdk85aszprh7aa06u6t2lm28vg4wl5mvt3myfrnz5u9spg3p9wntpnn9x9cwf4v9cgupumfqecw3j69jyeh5zef7ftrsxprgfv588qzdl0959g9lce3f8t4xr4ylt32pnm63tr7h6v6ypw6chx6cgapuy0g5pwc7dhwp625upsq3qf89uluh0p2gajm2rgalcl067wys73y4kh0ylczr3wn53zzjl2v7s25ewqv5400udq"
const goSignature = "3154e1412d5104d3485a010fdc3b111be1b6ac531d86abdc5ec9fb2bb7825fb922690de3437460d83855248f169759cd22e3685e338bd1739d0a237f24801a00"

// Go's signature (forward.SignConversationKey) of intakeRecipient as the
// key of conversation mfrggzdfmztwq2lk.
const goConvSignature = "9c471f2fa836bf0b3d028d7e52556e09a8fe53145375f3189366332c98fde3e699506aadacc82d24d37931de047d7522f0615ab0c6f07c1539ab858bd02d6503"

const hex = (b) => Buffer.from(b).toString("hex")
const unhex = (h) => Uint8Array.from(Buffer.from(h, "hex"))

test("signing key and statement as in Go", async () => {
  const k = signKey(deskIdentity + "\n")
  assert.equal(hex(k.publicKey), goSignPub)
  const deskRecipient = await identityToRecipient(deskIdentity)
  assert.ok(verifyIntake(k.publicKey, deskRecipient, 20428, intakeRecipient, unhex(goSignature)))
  assert.ok(!verifyIntake(k.publicKey, deskRecipient, 20429, intakeRecipient, unhex(goSignature)))
  assert.ok(!verifyIntake(k.publicKey, deskRecipient, 20428, deskRecipient, unhex(goSignature)))
  assert.ok(!verifyIntake(k.publicKey.subarray(1), deskRecipient, 20428, intakeRecipient, unhex(goSignature)))
})

test("intake keys and sealed keys", async () => {
  const deskRecipient = await identityToRecipient(deskIdentity)
  const sign = signKey(deskIdentity)
  const ik = await makeIntakeKey({ identity: deskIdentity, recipient: deskRecipient }, 7, sign)
  assert.ok(verifyIntake(sign.publicKey, deskRecipient, 7, ik.recipient, ik.signature))
  assert.equal(await identityToRecipient(ik.identity), ik.recipient)
  assert.equal(await open(ik.sealed, [deskIdentity]), ik.identity)
  assert.equal(await open(ik.sealed, [new HybridIdentity(deskIdentity)]), ik.identity)
  const other = await newKey()
  await assert.rejects(open(ik.sealed, [other.identity]))
  // A sealed file whose plaintext is not an identity is refused.
  await assert.rejects(open(await seal("hello", [deskRecipient]), [deskIdentity]))
})

test("conversation keys signed as in Go", async () => {
  const k = signKey(deskIdentity)
  const deskRecipient = await identityToRecipient(deskIdentity)
  const conv = "mfrggzdfmztwq2lk"
  // Ed25519 is deterministic: the same signature as Go's.
  assert.equal(hex(signConversationKey(k, deskRecipient, conv, intakeRecipient)), goConvSignature)
  assert.ok(verifyConversationKey(k.publicKey, deskRecipient, conv, intakeRecipient, unhex(goConvSignature)))
  assert.ok(!verifyConversationKey(k.publicKey, deskRecipient, "another", intakeRecipient, unhex(goConvSignature)))
  assert.ok(!verifyConversationKey(k.publicKey, deskRecipient, conv, deskRecipient, unhex(goConvSignature)))
  assert.ok(!verifyConversationKey(k.publicKey, deskRecipient, conv, intakeRecipient, null))
  // An intake key's signature is not a conversation key's.
  assert.ok(!verifyConversationKey(k.publicKey, deskRecipient, conv, intakeRecipient, unhex(goSignature)))
})
