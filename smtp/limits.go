package smtp

import "time"

// Limits on what one peer, one connection and one message may cost. A mail
// over a limit is refused whole, with a reply code that tells the sending
// server whether to try again (4xx) or to bounce (5xx).
const (
	// DefaultMaxMessageBytes bounds a whole message as it arrives (the
	// SIZE extension). Common providers cap attachments at 20–25 MB, and
	// base64 makes a file a third larger in a mail: 32 MiB lets those
	// through and bounds what one delivery may write.
	DefaultMaxMessageBytes int64 = 32 << 20

	// maxRecipients bounds the RCPT commands of one message: each accepted
	// desk costs a full copy of the message's objects.
	maxRecipients = 10
	// maxLineLength bounds a command or message line. RFC 5321 allows
	// 1,000 octets; mailers in the wild exceed it, so this is go-smtp's
	// default of twice that (RFC 5321 section 4.5.3.1.6 tells servers to
	// be liberal).
	maxLineLength = 2000
	// ioTimeout is how long the server waits for a command, or for more of
	// a message, and for the peer to read a reply.
	ioTimeout = 2 * time.Minute
	// maxDataTime bounds one message's transfer however steadily it
	// trickles in: 32 MiB at 20 kB/s.
	maxDataTime = 30 * time.Minute
	// maxConnTime bounds one connection's life, so that a peer that
	// keeps its connections busy with commands (a NOOP a minute) gives
	// its places back.
	maxConnTime = time.Hour

	// maxMessagesPerConn bounds the transactions of one connection.
	maxMessagesPerConn = 20
	// maxBadRecipientsPerConn bounds the refused recipients of one
	// connection, so guessing desk addresses takes many connections (each
	// of them paying the peer's message rate).
	maxBadRecipientsPerConn = 10

	// maxDeliveries bounds the messages being parsed and encrypted at the
	// same time, whatever their number of connections: each may hold
	// maxTextBytes of text in memory and keeps a few goroutines and
	// files busy.
	maxDeliveries = 8
	// deliveryWait is how long a message waits for a delivery slot
	// before it is refused as "try again later".
	deliveryWait = time.Minute

	// maxTextBytes bounds the text a message item may hold. The raw
	// e-mail is kept whole anyway; longer text is cut, with a note.
	maxTextBytes = 4 << 20
	// textBudget bounds the text held in memory while one message is read:
	// a text and its HTML alternative, or several text parts.
	textBudget = 2 * maxTextBytes
	// maxParts bounds the MIME parts extracted as items (each costs two
	// objects per desk); parts past it stay only in the raw e-mail.
	maxParts = 100
	// maxDepth bounds the nesting of multiparts that are extracted.
	maxDepth = 10
	// maxHeaderFields and maxHeaderBytes bound one header block (the
	// message's or a part's): go-message keeps a whole header in memory,
	// about twice over, and the headers of the nested multiparts being
	// read are held together. At 4 MiB, one mail of headers nested seven
	// deep held 70 MiB (eight mails at once, half a gigabyte); at 1 MiB,
	// ten deep hold 20 MiB. Postfix keeps at most 100 KiB of a header
	// (header_size_limit); a mail needs a few hundred fields. The guard
	// also sees bodies: a text sent unencoded with more than 1 MiB of
	// consecutive "name: value" lines is refused too, as one of more than
	// 10,000 such lines was already.
	maxHeaderFields = 10_000
	maxHeaderBytes  = 1 << 20
	// maxFilenameBytes bounds an attachment's name, as the web form does.
	maxFilenameBytes = 1024
	// maxHeaderTextBytes bounds a subject or an address line kept in an
	// item.
	maxHeaderTextBytes = 4096
	// maxHeaderRawBytes bounds the raw value of a field that is decoded
	// (a subject, an address line, a file name): decoding costs per
	// encoded word, and what is kept is cut at maxHeaderTextBytes or
	// maxFilenameBytes anyway. Four times the text kept leaves room for
	// base64 and for the words' charset labels.
	maxHeaderRawBytes = 4 * maxHeaderTextBytes
)

// limits are the per-peer and per-process limits. They are a struct, not
// only constants, so that tests can lower them.
type limits struct {
	// peerMessages messages per peerWindow from one peer, in a token
	// bucket: bursts up to peerMessages, then one every
	// peerWindow/peerMessages. Mail from a big provider shares its peers
	// with many senders; they are told to try again later (451) and do.
	peerMessages int
	peerWindow   time.Duration
	// peerConns concurrent connections from one peer, conns in all.
	peerConns int
	conns     int
	// peers bounds the peers remembered; past it, idle ones are forgotten
	// first, and if none is idle new peers are refused until some are.
	peers int
	// peerDeliveries bounds the delivery slots (maxDeliveries in all) one
	// peer may hold at once, so that a few peers sending slowly cannot
	// hold them all: with 2 of 8, four peers are needed, each sending at
	// least dataRate.
	peerDeliveries int
	// dataRate is the least average rate of a message's transfer, in
	// bytes per second, over dataWindow: a message may stall that long,
	// and must make up for it later, as for a web upload.
	dataRate   int64
	dataWindow time.Duration
}

var defaultLimits = limits{
	peerMessages: 30,
	peerWindow:   10 * time.Minute,
	peerConns:    5,
	conns:        100,
	peers:        100_000,

	peerDeliveries: 2,
	dataRate:       1 << 10,
	dataWindow:     time.Minute,
}
