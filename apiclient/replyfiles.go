package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/httpx"
)

// maxReplyFileMeta bounds a reply file's name and type as decrypted here.
const maxReplyFileMeta = 6*(httpx.MaxFilenameBytes+httpx.MaxSmallField) + 64

// ReplyFileMeta fetches a reply file's name, type and exact size, and
// decrypts them here with the source's identity.
func (c *Client) ReplyFileMeta(ctx context.Context, f api.Reply, identity age.Identity) (pista.FileMeta, error) {
	var meta pista.FileMeta
	if f.Kind != pista.KindFile || f.MetaSize <= 0 || f.MetaSize > AgeSizeBound(maxReplyFileMeta) {
		return meta, fmt.Errorf("reply file %d: %w", f.ID, ErrReplyTooLong)
	}
	resp, err := c.Do(ctx, http.MethodGet, "/api/v1/source/replies/"+strconv.FormatInt(f.ID, 10)+"/meta", nil, "")
	if err != nil {
		return meta, err
	}
	defer resp.Body.Close()
	r, err := age.Decrypt(Exact(resp, f.MetaSize), identity)
	if err != nil {
		return meta, fmt.Errorf("reply file %d: %w", f.ID, err)
	}
	b, err := io.ReadAll(io.LimitReader(r, maxReplyFileMeta+1))
	if err != nil {
		return meta, fmt.Errorf("reply file %d: %w", f.ID, err)
	}
	if len(b) > maxReplyFileMeta {
		return meta, fmt.Errorf("reply file %d: %w", f.ID, ErrReplyTooLong)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return meta, fmt.Errorf("reply file %d: its name and type are not what this program expects: %w", f.ID, err)
	}
	if meta.Size != nil && (*meta.Size < 0 || *meta.Size > f.Size) {
		return meta, fmt.Errorf("reply file %d: its size does not fit its encrypted file", f.ID)
	}
	return meta, nil
}

// ErrReplyFileSize: a reply file's plaintext is not the size its name and
// type object says (once the padding is cut).
var ErrReplyFileSize = errors.New("the file is not the size it was sent as")

// SaveReplyFile fetches a reply file, decrypts it here with the source's
// identity while it streams, and writes to w its first size bytes (its
// exact size; the rest is padding), or all of it if size is negative.
func (c *Client) SaveReplyFile(ctx context.Context, f api.Reply, identity age.Identity, size int64, w io.Writer) error {
	resp, err := c.Do(ctx, http.MethodGet, "/api/v1/source/replies/"+strconv.FormatInt(f.ID, 10), nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	r, err := age.Decrypt(Exact(resp, f.Size), identity)
	if err != nil {
		return fmt.Errorf("reply file %d: %w", f.ID, err)
	}
	if size < 0 {
		_, err = io.Copy(w, r)
		return err
	}
	n, err := io.Copy(w, io.LimitReader(r, size))
	if err != nil {
		return fmt.Errorf("reply file %d: %w", f.ID, err)
	}
	if n != size {
		return fmt.Errorf("reply file %d: %w", f.ID, ErrReplyFileSize)
	}
	// The padding is read too, so that the age file's last chunk is
	// authenticated.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("reply file %d: %w", f.ID, err)
	}
	return nil
}
