// Package smtp is pista's e-mail channel: an SMTP listener for the desks'
// addresses. A mail to LOCAL@DOMAIN goes to the desk whose slug or alias
// (pista.DeskStore.AddAlias) is LOCAL; every mail is encrypted on arrival
// and ends in the same inbox as a tip from the web.
//
// A source who writes by e-mail is not anonymous: their mail provider, and
// every server on the way, sees who wrote to the newsroom and when. The
// source pages say so; this channel is for those who choose it anyway, and
// for people who would never use a web form.
//
// # What is stored
//
// Each mail makes, for each desk it is addressed to, a new conversation
// (pista.ChannelEmail) with a new source. The source has no codename: its
// lookup is 32 random bytes that no one knows, so no one can log in as
// it, and it has no public key; a journalist answers from their own mail
// client. The conversation's items, each an age file encrypted to the
// desk's key and the archive recipients, are, in this order:
//
//	message   the Subject line ("Subject: …", then a blank line) and the
//	          text: text/plain parts, or, if an alternative has none, the
//	          text of its HTML (x/net/html, scripts and styles skipped)
//	file      each attachment, and each inline part that is not text, with
//	          its filename (RFC 2231 and RFC 2047 decoded by go-message) and
//	          media type in its meta object; the bytes are the file's own
//	          (transfer encoding decoded, charset untouched)
//	contact   "From: Name <addr>", "Reply-To: …" if the mail has one, and
//	          "Reply: mailto:addr?subject=Re%3A%20…" (the envelope sender
//	          stands in if there is no From)
//	email     the message as evidence (RFC 5322): exactly as received (as
//	          the DATA command carried it, DKIM signatures still verifying)
//	          if it has no attachment; else a copy without them (below)
//
// The message comes first, as in a tip from the web, because that is what
// a journalist reads first; the e-mail comes last, as the record of what
// arrived. Nothing else is stored: no envelope, no Received header, no
// address of the peer. Rows hold what every tip's rows hold (sizes, kinds,
// times at pista.TimeGranularity).
//
// The message streams through the server once. Its bytes are teed: one
// goroutine per desk encrypts them, as they arrive, into an object
// (intake.Encrypt), while go-message parses the same bytes, each
// attachment is encrypted into each desk's batch (intake.Batch) as it is
// decoded, and the parser writes the evidence copy, encrypted by one more
// goroutine per desk. Plaintext exists only in memory (age's 64 KiB
// chunks, and the text, at most maxTextBytes), never on disk.
//
// Each attachment loses its hidden metadata before it is encrypted, as a
// file from the form without JavaScript does (intake.AddScrubbedFile): it
// waits in Config.SpoolDir encrypted to a key held only in memory, and is
// scrubbed within Config.ScrubBudget, at most two files at once across the
// server; one the scrubber does not know, cannot read or would cost more
// than the budget is stored as sent. Its report says the e-mail intake did
// it and that the sender was not asked (pista.ScrubByEmail,
// pista.ScrubChoiceNotAsked).
//
// # The e-mail item without the attachments' metadata
//
// The e-mail item would undo that scrubbing if it held the attachments as
// sent, so (evidence.go) a message with an attachment is stored as a copy:
// every header field of the message and of its parts as received, byte for
// byte (Received, DKIM-Signature, Authentication-Results…), every text and
// HTML part as received, and in place of each attachment (each part that
// became a file item) a text/plain part, in the same place in the MIME
// tree, saying which file item it is and what was removed from it
// (X-Pista-Removed; its Content-* fields kept renamed X-Pista-Original-*).
// The copy's header starts with X-Pista-Evidence: attachments-replaced, as
// its body is not what the sender's server signed: a DKIM body hash does
// not verify on it. A multipart's preamble and epilogue are not kept;
// neither are parts not extracted (past maxParts, or nested deeper than
// maxDepth) but for texts. A detached signature (application/pgp-signature,
// application/pkcs7-signature) is a file item and is kept in the copy as
// received, so a signed mail without other attachments is stored whole,
// to the byte. A message without attachments is stored as
// received, to the byte. The copy's first lazyCopyBytes wait in memory:
// a message with no attachment there never starts the copy's objects;
// otherwise the object not kept is deleted before the rows are written. No choice
// keeps the message as sent: no one asks the sender.
//
// # All or nothing
//
// A mail is refused whole, with an SMTP error, and leaves nothing behind
// if it cannot be read: no header, a header line that is not a field (no
// blank line between header and body), a multipart without its boundary
// or cut short, an unknown Content-Transfer-Encoding, bad base64 or
// quoted-printable (554 5.6.0); if it is too large (552 5.3.4); or if the
// server fails (451 4.3.0: try again later). Every object a delivery
// wrote is deleted (intake.Batch.Abort) before the reply, and the rows are
// written only after every object of every desk is: one
// pista.TipStore.CreateTip per desk, in the order of the RCPT commands.
//
// A later desk's CreateTip can still fail after an earlier one's
// succeeded (the database failing between two transactions): the store
// has no transaction spanning several tips, and DeleteConversation needs
// a journalist of the desk. Then the desks not stored are aborted, the
// desks stored keep their conversation, and the peer gets 451, so it
// sends the mail again later to all of them: the desks already served get
// it twice, which a journalist can see and delete, rather than a desk
// never getting it. A TipStore method storing several tips in one
// transaction would make this atomic.
//
// Text longer than maxTextBytes is cut, with a note; parts past maxParts
// or nested deeper than maxDepth are not extracted, with a note. Those
// mails are not refused: the e-mail item holds all of them.
//
// # What is logged
//
// Only what failed, never who or what: no address (of the peer, the
// sender or a recipient), no subject, no filename, no content, not even at
// debug level. Errors of a malformed mail may quote it, so they are
// never logged, only the fact of a refusal. go-smtp's own log, which
// names peers, is discarded. Replies to the peer echo nothing it sent:
// go-smtp's own replies to HELO/EHLO, MAIL, RCPT and unknown commands
// repeat the peer's words, so pista builds with a copy of go-smtp whose
// replies do not (smtp/internal/gosmtp, PISTA.md there; go.mod replaces
// the module with it).
//
// # Limits, and why
//
// Every limit is a constant in limits.go with its reason. In short:
//
//   - SIZE: DefaultMaxMessageBytes (32 MiB) unless Config says otherwise,
//     announced in EHLO and enforced while reading (552 5.3.4).
//   - At most 10 recipients per mail (452 past it), lines of at most 2,000
//     octets (DATA; CHUNKING's BDAT has no lines), 20 mails per connection
//     and 10 unknown recipients per connection (past either, 421 and the
//     server hangs up).
//   - 2 minutes to send a command or to read a reply; an hour for a
//     connection in all.
//   - A message must arrive at 1 KiB/s on average: it starts with a
//     minute of credit, each byte adds a millisecond (up to a minute) and
//     waiting for the peer takes from it; when it is spent the transfer is
//     cut (451 4.4.2) and the server hangs up, since what the peer sends
//     next would be read as commands. 30 minutes for one message in all.
//   - A header block (the mail's or a part's) of at most 10,000 fields and
//     1 MiB, checked on the raw bytes before go-message holds it in
//     memory (552 5.3.4); a field is decoded from its first 16 KiB only,
//     each RFC 2047 word at the cost of its size; text held in memory
//     bounded per mail; at most 8 mails parsed at once, the others waiting
//     up to a minute (then 451).
//
// # Rate limits
//
// Per peer, in memory only. A peer is an IPv4 address or an IPv6 /64, and
// is known only by an HMAC-SHA-256 of it under a key drawn at start-up and
// never stored: the process does not hold peers' addresses in clear, and
// nothing links two runs. A peer may hold 5 connections at once (the 6th
// is told 421 4.7.0 and closed before its greeting; 100 connections in
// all), and send 30 mails per 10 minutes, counted by MAIL commands in a
// token bucket: a burst of 30, then one every 20 seconds; past it, MAIL
// is answered 451 4.7.1 and the peer tries again later. Mail from a large
// provider shares its servers with many senders; a temporary refusal makes
// it queue and retry, so nothing is lost. Idle peers with full buckets are
// forgotten: the key of a peer stays in memory while it has a
// connection and until its bucket is full again (at most 10 minutes after
// its last mail), then at the next sweep, which runs once a minute when
// peers come and go.
//
// A peer may hold at most 2 of the 8 delivery slots (a mail being parsed
// and encrypted as it arrives, slowly or not): a third mail of the peer at
// once is answered 451 4.7.1 at the end of its DATA without waiting for or
// taking a slot. Filling every slot thus takes four peers each sending at
// 1 KiB/s at least, for at most 30 minutes per mail; the mail of others
// waits up to a minute for a slot, then is refused with 451 and comes
// again.
//
// # STARTTLS
//
// With Config.TLS set, STARTTLS is offered (TLS 1.2 at least) but not
// required: SMTP between servers is opportunistic, and refusing those that
// cannot do TLS would lose tips while protecting nothing against an
// attacker who strips the offer. MTA-STS or DANE, published in the mail
// domain's DNS, make senders insist on it. There is no AUTH and no relay:
// the listener only takes mail for the desks.
//
// There is no postmaster address unless a desk has the alias
// "postmaster": every recipient that is not a desk is refused.
package smtp
