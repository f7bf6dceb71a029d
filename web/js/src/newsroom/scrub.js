// Metadata scrubbing in the browser: pista's Go scrubbers (package scrub)
// compiled to WebAssembly, fetched only when a journalist asks for a
// scrubbed copy. The file is decrypted in this page and scrubbed here; the
// server never sees it.
import "./wasm_exec.js";

let ready;

function load() {
  if (!ready) {
    ready = (async () => {
      const resp = await fetch("/static/scrub.wasm", { credentials: "same-origin" });
      if (!resp.ok) throw new Error(`the scrubber did not load (${resp.status})`);
      const go = new globalThis.Go();
      const { instance } = await WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject);
      go.run(instance); // sets globalThis.pistaScrub and waits for calls
      if (typeof globalThis.pistaScrub !== "function") throw new Error("the scrubber did not start");
    })();
    ready.catch(() => { ready = undefined; }); // a later press tries again
  }
  return ready;
}

// scrubFile returns {bytes, report} for a decrypted file: bytes without
// the metadata pista knows how to remove, and the scrub report (Format,
// Scrubbed, Found, Note). It throws if the format is unknown or broken.
export async function scrubFile(bytes, name, type) {
  await load();
  const out = globalThis.pistaScrub(bytes, name || "", type || "");
  const report = out.report ? JSON.parse(out.report) : {};
  if (out.error) {
    const err = new Error(out.error);
    err.report = report;
    throw err;
  }
  return { bytes: out.bytes, report };
}
