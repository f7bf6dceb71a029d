// Package httpx is what every HTTP surface of pista shares: the security
// headers of every response, CSRF tokens, server-side sessions and the
// limits on what a request may carry.
//
// # Sessions
//
// Journalists' sessions (Sessions) live in the server's memory only. A
// session ID is 32 random bytes, sent once in a cookie (HttpOnly,
// SameSite=Strict, Secure behind TLS) or as a bearer token, and kept on
// the server only as its SHA-256, so lookups by map key reveal nothing
// through timing and a memory dump holds no usable cookie. The table is
// bounded; only journalists can add to it.
//
// Sources' sessions (Sealed) are kept by no one but the source: anyone
// can become a source, so a table of their sessions is one anyone can
// fill. The session is sealed into the cookie or token itself with
// XChaCha20-Poly1305, with the purpose — web cookie or API token — in the
// additional data, so that neither stands for the other. The keys
// (KeyRing) are in the database's settings, which every instance shares,
// so sessions outlive restarts; a new one is made every hour and each is
// deleted once no live session can need it, so that a cookie copied from
// a source's computer cannot be opened later, not even with the
// database. It carries a random 16-byte session ID (what CSRF tokens
// are bound to: the cookie's value changes each time the cookie is sealed
// again), its created and last-used times, the source's session epoch and
// the caller's value. A web session holds the seed of the source's age
// identity, derived from the codename at login, so that replies can be
// decrypted for each page view without the codename being kept anywhere;
// the identity is rebuilt from it on each request. Sessions expire after
// an idle time (cookies: sliding, the cookie sealed again at most once a
// minute) and an absolute lifetime, whichever comes first. What the
// server cannot take back it revokes by epoch: each request reads the
// source's epoch (one indexed read) and refuses a session of another, so
// a logout ends every copy of every session of the source, and a deleted
// conversation ends its sessions too.
//
// # CSRF
//
// Every form carries a token in the field "csrf". For a visitor with a
// session the token is HMAC-SHA-256(secret, session ID); for one without
// (the landing page, the login forms) it is a random nonce and a time,
// signed with the same secret, valid for a day. Both are compared in
// constant time. Go's http.CrossOriginProtection, which refuses
// cross-origin browser requests by their Sec-Fetch-Site and Origin headers,
// is a second, independent guard.
//
// # Slow clients
//
// A client that sends slowly holds a connection, a goroutine, buffers and
// often a file. pista serve bounds all of them: at most ConnLimit
// connections (derived from the open-file limit, raised to its hard value
// at start: half of what 256 reserved descriptors leave, at most 512),
// idle keep-alive connections closed first past it, then connections that
// have not sent their headers within StaleNew, and new ones closed
// unanswered if there is neither; 30 seconds for a request's headers, 64 KiB
// of them; two minutes idle between requests; and MinBodyRate on every
// body, 1 KiB/s averaged over a minute; and MinResponseRate on every
// response, the same rate for the client taking it, so that a client that
// asks for a large page or download and then reads nothing frees its
// connection and handler within the window. A client's abort is its own
// business: handlers answer it without logging (ClientFault), and
// QuietAborts drops any log record whose error is a cancelled context.
// Drain lets the server, on stop, cut the requests still in flight after a
// grace, answer them 503 and wait for their handlers before it closes the
// stores.
package httpx
