// The inbox starts the sorter (sorter.worker.js, /static/sorter.js) once
// this device has unwrapped the journalist's desk keys, and shows what it
// does in #sort-status, in the page's language (data-msg-*). It runs as
// long as the inbox is open; the search's catch-up goes first, so that
// what arrived is indexed while this device can still open it with the
// day's intake key.
//
// The status element's data-state says where it is (for tests and
// screen readers alike, the text is what people read): "sorting",
// "sorted", "badsign" (a desk's signing key on the server is not the one
// its key gives: the sorter stopped), "failed" (it tries again), "off".

import * as keys from "./keys.js"

function msg(el, name, vars = {}) {
  let s = el.dataset["msg" + name] || ""
  for (const [k, v] of Object.entries(vars)) s = s.replaceAll("{" + k + "}", String(v))
  return s
}

function show(el, m) {
  const state = String(m.state || "")
  el.dataset.state = state
  const n = Number(m.count) || 0
  if (state === "sorting") {
    el.textContent = msg(el, "Sorting", { n: n.toLocaleString(document.documentElement.lang || undefined) })
    el.classList.remove("warning")
    el.hidden = false
  } else if (state === "sorted") {
    el.dataset.sorted = String((Number(el.dataset.sorted) || 0) + n)
    // How long the last round that sorted something took, in ms.
    if (n > 0) {
      el.dataset.ms = String(Number(m.ms) || 0)
      el.dataset.timing = JSON.stringify(m.timing || {})
    }
    // Said once something was sorted on this page; quiet otherwise.
    if (Number(el.dataset.sorted) > 0 || !el.hidden) {
      el.textContent = msg(el, "Sorted")
      el.classList.remove("warning")
      el.hidden = false
    }
  } else if (state === "badsign") {
    el.textContent = msg(el, "Badsign", { desk: String(m.desk || "") })
    el.classList.add("warning")
    el.setAttribute("role", "alert")
    el.hidden = false
  } else if (state === "failed") {
    el.textContent = msg(el, "Failed")
    el.hidden = false
  }
}

// whenSearchReady waits for the inbox's search index to have caught up
// (form#search's data-index-ready), at most a minute.
function whenSearchReady() {
  const form = document.querySelector("form#search[data-search-index]")
  if (!form) return Promise.resolve()
  return new Promise((resolve) => {
    const started = Date.now()
    const check = () => {
      if (form.dataset.indexReady || Date.now() - started > 60_000) resolve()
      else setTimeout(check, 250)
    }
    check()
  })
}

async function start(el) {
  let list
  try {
    list = await keys.deskIdentities()
  } catch {
    return // no key on this device: the page says so elsewhere
  }
  if (!list || list.length === 0 || typeof Worker === "undefined") return
  await whenSearchReady()
  const worker = new Worker(el.dataset.sorter)
  worker.onmessage = (e) => show(el, e.data || {})
  worker.onerror = () => show(el, { state: "failed" })
  // Only what the worker needs: the identity strings, never the page's
  // other state.
  worker.postMessage({
    type: "start",
    token: keys.csrfToken(),
    desks: list.map((k) => ({ desk: k.desk, keyId: k.keyId, identity: k.identity })),
  })
}

const el = document.querySelector("#sort-status[data-sorter]")
if (el && el.dataset.sorter.startsWith("/static/")) start(el)
