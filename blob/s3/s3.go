// Package s3 keeps pista's encrypted objects in an S3-compatible bucket
// (AWS S3, MinIO, Ceph RGW, Garage…), through minio-go.
//
// It implements pista.BlobStore as blob.Local does, with the same
// contract (package blobtest runs against both). Every object is a
// standard age file, encrypted before its first byte leaves the process.
//
// # Write order and memory
//
// Put streams: it reads at most PartSize bytes into one buffer (mapped
// outside the Go heap, see buffers.go; an object under 64 KiB takes a
// small one instead), sends them and reuses the buffer, so an upload
// holds one part in memory whatever its size (a 5 MiB part: 10,000 parts, S3's limit, make
// objects of up to 48 GiB). An object shorter than a part goes in one
// request; a longer one as a multipart upload that becomes visible only
// when completed, so that, as with blob.Local's rename, a crash never
// leaves a partial object under a real key (S3 keeps the parts of an
// upload never completed: give the bucket a lifecycle rule that aborts
// incomplete multipart uploads after a day). The caller writes the rows
// after Put returns: object first, row second.
//
// # Keys and the orphan sweep
//
// A key is 32 lowercase hex digits, as blob.Local's: the first 8 are
// the hour of the write (hours since 1970, pista.TimeGranularity), the
// other 24 are random (96 bits). Keys therefore sort by hour, and
// KeysBetween lists the objects written in a span of hours without
// listing the bucket: the orphan sweep (server.SweepRecentOrphans) looks
// only at the hours in which a crash could have left one, and its work
// does not grow with the number of objects. The hour says no more than
// the rows' coarse times and the bucket's own modification times do.
//
// # Times
//
// The bucket records each object's modification time to the second; no
// client can coarsen it, unlike the local folder's times (blob.Coarsen).
// Whoever reads the bucket's listing learns when each tip's objects were
// written: run a bucket only pista can list, on storage you trust as
// much as the data folder.
package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pista-tips/pista"
)

// PartSize is the size of a multipart upload's parts, and so the memory
// one Put holds: S3's smallest part.
const PartSize = 5 << 20

// Store is a BlobStore in an S3 bucket, under a prefix.
type Store struct {
	core   minio.Core
	bucket string
	prefix string
	tls    bool
}

var _ pista.BlobStore = (*Store)(nil)

// Open connects to the bucket cfg names, with its credentials, and
// checks that the bucket exists.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Creds == nil {
		return nil, errors.New("s3: no credentials")
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  cfg.Creds,
		Secure: cfg.TLS,
		Region: cfg.Region,
		// Path-style requests (endpoint/bucket/key) work with every
		// S3-compatible server; virtual-host style needs DNS for each
		// bucket.
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	s := &Store{core: minio.Core{Client: c}, bucket: cfg.Bucket, prefix: cfg.Prefix, tls: cfg.TLS}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3: reaching bucket %q at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3: bucket %q does not exist at %s", cfg.Bucket, cfg.Endpoint)
	}
	return s, nil
}

// smallSize is what Put reads before it takes a part buffer: most
// objects (messages, metadata, replies) are smaller, and sixteen of them
// written at once must not hold sixteen parts.
const smallSize = 64 << 10

var smalls = sync.Pool{New: func() any { b := make([]byte, smallSize); return &b }}

// newKey makes a key for an object written at t.
func newKey(t time.Time) string {
	var raw [16]byte
	hour := uint32(t.Unix() / 3600)
	raw[0], raw[1], raw[2], raw[3] = byte(hour>>24), byte(hour>>16), byte(hour>>8), byte(hour)
	rand.Read(raw[4:])
	return hex.EncodeToString(raw[:])
}

// hourPrefix is the first 8 digits of the keys written in hour.
func hourPrefix(hour int64) string { return fmt.Sprintf("%08x", uint32(hour)) }

func validKey(key string) bool {
	if len(key) != 32 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (s *Store) name(key string) string { return s.prefix + key }

// Put streams r to a new object. On any error nothing is left under the
// key, and a multipart upload already begun is aborted.
func (s *Store) Put(ctx context.Context, r io.Reader) (string, int64, error) {
	key := newKey(pista.Now())
	n, err := s.put(ctx, key, r)
	if err != nil {
		return "", 0, err
	}
	return key, n, nil
}

// PutKey streams r to the object key, as Put does (one part in memory,
// nothing left under the key on error), replacing an object already
// there. It is for objects that have a key already, moved from another
// store (pista migrate keeps blob.Local's keys); new objects go through
// Put, which makes theirs.
func (s *Store) PutKey(ctx context.Context, key string, r io.Reader) (int64, error) {
	if !validKey(key) {
		return 0, errors.New("s3: not an object key")
	}
	return s.put(ctx, key, r)
}

func (s *Store) put(ctx context.Context, key string, r io.Reader) (int64, error) {
	sp := smalls.Get().(*[]byte)
	n, err := io.ReadFull(r, *sp)
	buf := *sp
	if err == nil {
		// Larger than a small object: on into a part buffer.
		buf = getPart()
		defer putPart(buf)
		copy(buf, (*sp)[:n])
		smalls.Put(sp)
		var m int
		m, err = io.ReadFull(r, buf[n:])
		n += m
	} else {
		defer smalls.Put(sp)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		// Shorter than a part: one request.
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		_, err := s.core.PutObject(ctx, s.bucket, s.name(key), bytes.NewReader(buf[:n]), int64(n), "", s.payloadHash(buf[:n]), putOptions)
		if err != nil {
			return 0, fmt.Errorf("s3: writing object: %w", err)
		}
		return int64(n), nil
	}
	if err != nil {
		return 0, fmt.Errorf("s3: reading object: %w", err)
	}
	return s.putMultipart(ctx, key, r, buf)
}

// putOptions are every write's: the objects are already encrypted and
// never change. The payload is signed by its SHA-256 (payloadHash), not
// by minio-go's streaming signature, which would copy every 64 KiB chunk
// through a new buffer.
var putOptions = minio.PutObjectOptions{ContentType: "application/octet-stream", DisableContentSha256: true}

// payloadHash is the SHA-256 a request's signature covers, over plain
// HTTP: a network in between could otherwise swap the object for another
// age file encrypted to the same desk key (anyone can make one). Over
// HTTPS, which already protects the payload, it is left out ("": the
// request says UNSIGNED-PAYLOAD) and costs nothing.
func (s *Store) payloadHash(p []byte) string {
	if s.tls {
		return ""
	}
	h := sha256.Sum256(p)
	return hex.EncodeToString(h[:])
}

func (s *Store) putPart(ctx context.Context, key, id string, number int, p []byte) (minio.CompletePart, error) {
	part, err := s.core.PutObjectPart(ctx, s.bucket, s.name(key), id, number, bytes.NewReader(p), int64(len(p)),
		minio.PutObjectPartOptions{Sha256Hex: s.payloadHash(p), DisableContentSha256: true})
	if err != nil {
		return minio.CompletePart{}, fmt.Errorf("s3: writing part %d: %w", number, err)
	}
	return minio.CompletePart{PartNumber: part.PartNumber, ETag: part.ETag}, nil
}

// putMultipart sends buf, which is full, then the rest of r, one part at
// a time through buf.
func (s *Store) putMultipart(ctx context.Context, key string, r io.Reader, buf []byte) (size int64, err error) {
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, s.name(key), putOptions)
	if err != nil {
		return 0, fmt.Errorf("s3: starting upload: %w", err)
	}
	defer func() {
		if err != nil {
			// Even when ctx ended (a source that went away): the parts
			// would otherwise stay, unlisted, until a lifecycle rule.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			s.core.AbortMultipartUpload(actx, s.bucket, s.name(key), id)
			cancel()
		}
	}()
	var done []minio.CompletePart
	n := len(buf)
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		p, err := s.putPart(ctx, key, id, len(done)+1, buf[:n])
		if err != nil {
			return 0, err
		}
		done = append(done, p)
		size += int64(n)
		var rerr error
		n, rerr = io.ReadFull(r, buf)
		if rerr == io.EOF {
			break
		}
		if rerr != nil && rerr != io.ErrUnexpectedEOF {
			return 0, fmt.Errorf("s3: reading object: %w", rerr)
		}
		if len(done) == maxParts {
			return 0, fmt.Errorf("s3: object larger than %d parts of %d bytes", maxParts, PartSize)
		}
		if rerr == io.ErrUnexpectedEOF {
			// The last part, shorter than the others.
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			p, err := s.putPart(ctx, key, id, len(done)+1, buf[:n])
			if err != nil {
				return 0, err
			}
			done = append(done, p)
			size += int64(n)
			break
		}
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, s.name(key), id, done, putOptions); err != nil {
		return 0, fmt.Errorf("s3: completing upload: %w", err)
	}
	return size, nil
}

// maxParts is S3's limit on a multipart upload's parts.
const maxParts = 10000

// Open streams an object; ErrNotFound for a missing key.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if !validKey(key) {
		return nil, pista.ErrNotFound
	}
	body, _, _, err := s.core.GetObject(ctx, s.bucket, s.name(key), minio.GetObjectOptions{})
	if err != nil {
		if notFound(err) {
			return nil, pista.ErrNotFound
		}
		return nil, fmt.Errorf("s3: %w", err)
	}
	return body, nil
}

func notFound(err error) bool {
	e := minio.ToErrorResponse(err)
	return e.Code == minio.NoSuchKey || e.StatusCode == http.StatusNotFound && e.Code != minio.NoSuchBucket
}

// Delete removes an object; deleting a missing one is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if !validKey(key) {
		return nil
	}
	err := s.core.RemoveObject(ctx, s.bucket, s.name(key), minio.RemoveObjectOptions{})
	if err != nil && !notFound(err) {
		return fmt.Errorf("s3: %w", err)
	}
	return nil
}

// Keys lists every object, a page of 1,000 at a time.
func (s *Store) Keys(ctx context.Context) ([]string, error) {
	var keys []string
	err := s.list(ctx, "", "", func(k string) bool { keys = append(keys, k); return true })
	return keys, err
}

// KeysBetween lists the objects written from hour from to hour to,
// both included (hours since 1970): a listing of those hours only.
func (s *Store) KeysBetween(ctx context.Context, from, to time.Time) ([]string, error) {
	lo, hi := from.Unix()/3600, to.Unix()/3600
	if lo > hi || hi < 0 {
		return nil, nil
	}
	// Listing starts after the greatest key of the hour before from.
	after := ""
	if lo > 0 {
		after = hourPrefix(lo-1) + "ffffffffffffffffffffffff"
	}
	end := hourPrefix(hi)
	var keys []string
	err := s.list(ctx, after, "", func(k string) bool {
		if k[:8] > end {
			return false
		}
		keys = append(keys, k)
		return true
	})
	return keys, err
}

// list calls each with every valid key after startAfter, in order, until
// it answers false.
func (s *Store) list(ctx context.Context, startAfter, token string, each func(string) bool) error {
	if startAfter != "" {
		startAfter = s.name(startAfter)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := s.core.ListObjectsV2(s.bucket, s.prefix, startAfter, token, "", 1000)
		if err != nil {
			return fmt.Errorf("s3: listing: %w", err)
		}
		for _, o := range page.Contents {
			k := o.Key[len(s.prefix):]
			if !validKey(k) {
				continue
			}
			if !each(k) {
				return nil
			}
		}
		if !page.IsTruncated || page.NextContinuationToken == "" {
			return nil
		}
		token = page.NextContinuationToken
	}
}

// String names the store for logs: bucket and prefix, no credentials.
func (s *Store) String() string {
	return "s3://" + s.bucket + "/" + s.prefix + " at " + s.core.EndpointURL().Host
}

// maxAbortsPerSweep bounds one AbortStaleUploads: a later sweep goes on.
const maxAbortsPerSweep = 10000

// AbortStaleUploads aborts the multipart uploads of this store begun
// before before: what a crash in the middle of a Put left, parts that
// S3 keeps, unlisted and billed, until they are aborted. An upload in
// progress is younger than any sensible before (server.OrphanGrace).
func (s *Store) AbortStaleUploads(ctx context.Context, before time.Time) (int, error) {
	n := 0
	keyMarker, idMarker := "", ""
	for n < maxAbortsPerSweep {
		page, err := s.core.ListMultipartUploads(ctx, s.bucket, s.prefix, keyMarker, idMarker, "", 1000)
		if err != nil {
			return n, fmt.Errorf("s3: listing uploads: %w", err)
		}
		for _, u := range page.Uploads {
			if !u.Initiated.Before(before) || !strings.HasPrefix(u.Key, s.prefix) || !validKey(u.Key[len(s.prefix):]) {
				continue
			}
			if err := s.core.AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID); err != nil && !notFound(err) {
				return n, fmt.Errorf("s3: aborting an upload: %w", err)
			}
			n++
		}
		if !page.IsTruncated || page.NextKeyMarker == "" && page.NextUploadIDMarker == "" {
			return n, nil
		}
		keyMarker, idMarker = page.NextKeyMarker, page.NextUploadIDMarker
	}
	return n, nil
}

// OpenSized is Open, answering the object's size too.
func (s *Store) OpenSized(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	if !validKey(key) {
		return nil, 0, pista.ErrNotFound
	}
	body, info, _, err := s.core.GetObject(ctx, s.bucket, s.name(key), minio.GetObjectOptions{})
	if err != nil {
		if notFound(err) {
			return nil, 0, pista.ErrNotFound
		}
		return nil, 0, fmt.Errorf("s3: %w", err)
	}
	return body, info.Size, nil
}

// Empty reports whether the bucket (under its prefix) holds no object
// named like pista's.
func (s *Store) Empty(ctx context.Context) (bool, error) {
	empty := true
	err := s.list(ctx, "", "", func(string) bool { empty = false; return false })
	return empty, err
}
