// Desks that run themselves: the browser's part of invitations, approval,
// removal with key rotation, and desk creation. The server never sees a
// passphrase, a wrapping key or an identity here: this script makes them,
// uses them and forgets them, and sends only public keys, age files
// (identities encrypted to someone's public key) and the identity sealed
// with the wrapping key.
//
// Pages (each checked by its marker):
//   #invite-form   /newsroom/invite/{token}  make an account
//   #desk-team     /newsroom/desks/{slug}    approve, remove, rotate
//   #create-desk   /newsroom/admin           make a desk
import { Encrypter, generateHybridIdentity, identityToRecipient } from "age-encryption";
import * as keys from "./keys.js";

function b64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function csrf() {
  if (typeof keys.csrfToken === "function") {
    const t = keys.csrfToken();
    if (t) return t;
  }
  const el = document.querySelector('input[name="csrf"]');
  return el ? el.value : "";
}

// send POSTs fields as a form with the page's CSRF token and answers the
// server's JSON: it goes to {next}, or throws {error} in the page's
// language.
async function send(path, fields, failed) {
  const body = new URLSearchParams(fields);
  body.set("csrf", csrf());
  const r = await fetch(path, { method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" } });
  let j = null;
  try {
    j = await r.json();
  } catch {
    j = null;
  }
  if (r.ok && j && j.next) return j.next;
  throw new Error((j && j.error) || failed);
}

// wrapTo encrypts a desk identity to a member's public key: a standard age
// file whose plaintext is the AGE-SECRET-KEY-PQ-1… string (keys.Wrap in Go).
async function wrapTo(identity, recipient) {
  const e = new Encrypter();
  e.addRecipient(recipient);
  return b64(await e.encrypt(identity));
}

function withLang(path, q) {
  if (!q) return path;
  return path + (path.includes("?") ? "&" + q.slice(1) : q);
}

// --- Joining by invitation ---

function strength(p) {
  const words = p.trim().split(/\s+/).filter(Boolean).length;
  if (p.length >= 20 || words >= 4) return "strong";
  if (p.length >= 14 || words >= 3) return "fair";
  return "weak";
}

function setupInvite(form) {
  const d = form.dataset;
  const status = document.getElementById("join-status");
  const pass = document.getElementById("join-pass");
  const pass2 = document.getElementById("join-pass2");
  const hint = document.getElementById("join-strength");
  const button = document.getElementById("join-button");
  pass.addEventListener("input", () => {
    if (pass.value) hint.textContent = d["msg" + strength(pass.value).replace(/^./, (c) => c.toUpperCase())];
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    status.classList.remove("error");
    if (pass.value.length < 12) {
      status.textContent = d.msgShort;
      pass.focus();
      return;
    }
    if (pass.value !== pass2.value) {
      status.textContent = d.msgMismatch;
      pass2.focus();
      return;
    }
    button.disabled = true;
    status.textContent = d.msgWorking;
    try {
      const identity = await generateHybridIdentity();
      const recipient = await identityToRecipient(identity);
      const salt = crypto.getRandomValues(new Uint8Array(16));
      const { auth, wrapKey } = await keys.deriveKeys(pass.value, salt, d.kdf);
      const wrapped = await keys.wrapIdentity(wrapKey, identity);
      const next = await send(
        withLang(location.pathname, d.langQuery),
        {
          name: document.getElementById("join-name").value.trim(),
          recipient,
          salt: b64(salt),
          kdf: d.kdf,
          auth: b64(auth),
          wrapped: b64(wrapped),
          totp_secret: document.getElementById("totp-secret").value,
          totp: document.getElementById("join-totp").value.trim(),
        },
        d.msgFailed,
      );
      pass.value = "";
      pass2.value = "";
      form.querySelectorAll("input, button").forEach((el) => (el.disabled = true));
      status.textContent = d.msgDone + " ";
      const a = document.createElement("a");
      a.href = next;
      a.id = "join-login";
      a.textContent = d.msgLogin;
      status.append(a);
    } catch (err) {
      status.classList.add("error");
      status.textContent = err.message || d.msgFailed;
      button.disabled = false;
    }
  });
}

// --- A desk's members ---

function setupDesk(root) {
  const d = root.dataset;
  const status = document.getElementById("team-status");
  const busy = (on) => root.querySelectorAll("button").forEach((b) => (b.disabled = on));
  const run = async (work) => {
    busy(true);
    status.classList.remove("error");
    status.textContent = d.msgWorking;
    try {
      location.assign(await work());
    } catch (err) {
      status.classList.add("error");
      status.textContent = err.message || d.msgFailed;
      busy(false);
    }
  };

  // Approve: unwrap every key generation of the desk and wrap each to the
  // newcomer. Only a member's browser can: the server has no desk key.
  root.querySelectorAll("[data-approve]").forEach((btn) =>
    btn.addEventListener("click", () =>
      run(async () => {
        const li = btn.closest("[data-pending]");
        let gens;
        try {
          gens = (await keys.deskIdentities()).filter((g) => String(g.desk) === d.desk || String(g.desk) === d.deskId);
        } catch {
          throw new Error(d.msgNokey);
        }
        if (!gens.some((g) => String(g.keyId) === d.key)) throw new Error(d.msgNokey);
        const wraps = [];
        for (const g of gens) wraps.push({ key: Number(g.keyId), age: await wrapTo(g.identity, li.dataset.recipient) });
        return send(
          withLang(`/newsroom/desks/${d.desk}/members/${btn.dataset.approve}/approve`, d.langQuery),
          { wraps: JSON.stringify(wraps) },
          d.msgFailed,
        );
      }),
    ),
  );

  // Rotate (removing one member, or none): a new desk identity, wrapped to
  // every member who stays, then forgotten.
  const rotate = (remove) =>
    run(async () => {
      let identity = await generateHybridIdentity();
      const recipient = await identityToRecipient(identity);
      const wraps = [];
      for (const row of root.querySelectorAll("[data-member]")) {
        if (row.dataset.member === remove) continue;
        wraps.push({ journalist: Number(row.dataset.member), age: await wrapTo(identity, row.dataset.recipient) });
      }
      identity = null;
      const fields = { recipient, wraps: JSON.stringify(wraps) };
      if (remove) fields.remove = remove;
      return send(withLang(`/newsroom/desks/${d.desk}/rotate`, d.langQuery), fields, d.msgFailed);
    });
  root.querySelectorAll("[data-remove]").forEach((btn) => btn.addEventListener("click", () => rotate(btn.dataset.remove)));
  const rot = document.getElementById("rotate-key");
  if (rot) rot.addEventListener("click", () => rotate(""));
}

// --- Making a desk (admins) ---

function setupCreateDesk(form) {
  const d = form.dataset;
  const status = document.getElementById("create-status");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    status.classList.remove("error");
    const chosen = [...form.querySelectorAll('input[name="coordinator"]:checked')];
    if (chosen.length === 0) {
      status.textContent = d.msgNone;
      return;
    }
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    status.textContent = d.msgWorking;
    try {
      let identity = await generateHybridIdentity();
      const recipient = await identityToRecipient(identity);
      const wraps = [];
      for (const c of chosen) wraps.push({ journalist: Number(c.value), age: await wrapTo(identity, c.dataset.recipient) });
      identity = null; // forgotten: only the coordinators' wraps remain
      const next = await send(
        withLang("/newsroom/admin/desks", d.langQuery),
        {
          slug: document.getElementById("nd-slug").value.trim(),
          title: document.getElementById("nd-title").value.trim(),
          recipient,
          wraps: JSON.stringify(wraps),
        },
        d.msgFailed,
      );
      location.assign(next);
    } catch (err) {
      status.classList.add("error");
      status.textContent = err.message || d.msgFailed;
      button.disabled = false;
    }
  });
}

const invite = document.getElementById("invite-form");
if (invite) setupInvite(invite);
const desk = document.getElementById("desk-team");
if (desk) setupDesk(desk);
const create = document.getElementById("create-desk");
if (create) setupCreateDesk(create);
