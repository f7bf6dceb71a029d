package httpx

// Limits on what a request may carry. A request over a limit is refused
// whole, with a page that says which limit it crossed.
const (
	// MaxMessageChars is the longest message a source may write: a long
	// article's worth of text.
	MaxMessageChars = 100_000
	// MaxMessageBytes bounds the message field in bytes (four per character
	// at most in UTF-8).
	MaxMessageBytes = 4 * MaxMessageChars
	// MaxContactChars bounds the optional contact field: enough for a few
	// addresses and a sentence about when to call.
	MaxContactChars = 2_000
	// MaxSmallField bounds fields that hold a token, a slug or a code.
	MaxSmallField = 256
	// MaxFormBody bounds a form without files (login, reply, settings):
	// a reply as long as a message, and some fields.
	MaxFormBody = MaxMessageBytes + 64<<10
	// MaxFiles bounds how many files one submission may carry.
	MaxFiles = 100
	// MaxFilenameBytes bounds an uploaded file's name.
	MaxFilenameBytes = 1024
	// MaxParts bounds the parts of a multipart body: two per file when the
	// browser encrypts (the file, then its name and type), and the fields.
	MaxParts = 2*MaxFiles + 20
	// MaxPartHeaderBytes bounds the headers of one part.
	MaxPartHeaderBytes = 8 << 10
)

// DefaultMaxUpload is the default limit on a whole submission, files
// included: 4 GiB.
const DefaultMaxUpload int64 = 4 << 30
