package pista

// IsReplyFile reports whether the item is a file a journalist sent with a
// reply: a file item with an author (a source's files have none). Like a
// reply, it is encrypted to the source's key as well as the desk's, and
// the source's pages and API list it with the replies.
func (it Item) IsReplyFile() bool { return it.Kind == KindFile && it.AuthorID != 0 }

// ForSource reports whether the item is one the source reads: a reply or
// a reply's file.
func (it Item) ForSource() bool { return it.Kind == KindReply || it.IsReplyFile() }
