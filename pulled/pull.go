package pulled

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/keys"
)

// Client talks to a pista server's journalist API.
type Client struct {
	Server string // base URL, e.g. https://tips.example.org
	// Device is the device token of this device's last login ("" if
	// none), sent at Login, which replaces it with the new one to keep.
	Device string
	api    *apiclient.Client
}

// NewClient returns a client for server whose requests go through the
// proxy of the environment (HTTPS_PROXY, ALL_PROXY…; socks5:// for Tor).
func NewClient(server string) (*Client, error) {
	c, err := apiclient.New(server, "")
	if err != nil {
		return nil, err
	}
	return &Client{Server: c.Server, api: c}, nil
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	return c.api.Do(ctx, method, path, body, "")
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	return c.api.GetJSON(ctx, path, v)
}

// Login logs in with passphrase and TOTP code, as the web inbox does: it
// asks for the account's salt and parameters, stretches the passphrase
// here (keys.DeriveJournalist) and sends only the authentication key.
func (c *Client) Login(ctx context.Context, name, passphrase, code string) error {
	var p api.ParamsResponse
	if err := c.api.PostJSON(ctx, "/api/v1/journalist/login/params", api.ParamsRequest{Name: name}, &p); err != nil {
		return err
	}
	k, err := keys.DeriveJournalist(ctx, passphrase, p.Salt, p.KDF)
	if err != nil {
		return fmt.Errorf("the server asks for key derivation parameters this version does not use: %w", err)
	}
	var lr api.LoginResponse
	if err := c.api.PostJSON(ctx, "/api/v1/journalist/login", api.LoginRequest{Name: name, Auth: k.Auth, TOTP: code, Device: c.Device}, &lr); err != nil {
		return err
	}
	c.api.Token, c.Device = lr.Token, lr.Device
	return nil
}

// Logout ends the session.
func (c *Client) Logout(ctx context.Context) {
	c.api.PostJSON(ctx, "/api/v1/journalist/logout", nil, nil)
	c.api.Token = ""
}

// Report says what a pull fetched.
type Report struct {
	Keys, Items int
	LastItem    int64
}

// Pull downloads into dir everything new since the last pull into dir.
// The client must be logged in. Files are written under temporary names
// and renamed when complete, and the state is saved after each page, so an
// interrupted pull resumes where it stopped.
func (c *Client) Pull(ctx context.Context, dir, user string) (Report, error) {
	var rep Report
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return rep, err
	}
	st, err := readState(dir)
	if err != nil {
		return rep, err
	}
	if st.Server != "" && (st.Server != c.Server || st.User != user) {
		return rep, fmt.Errorf("%s holds a pull of %s for %s: pull into another folder", dir, st.Server, st.User)
	}
	st.Server, st.User = c.Server, user

	var keys api.KeysResponse
	if err := c.getJSON(ctx, "/api/v1/journalist/keys", &keys); err != nil {
		return rep, err
	}
	for _, k := range keys.Keys {
		name := filepath.Join(dir, "keys", fmt.Sprintf("%s-%d.age", SafeName(k.Desk, "desk"), k.KeyID))
		if _, err := os.Stat(name); err == nil {
			continue
		}
		if err := writeFile(name, bytes.NewReader(k.Wrapped)); err != nil {
			return rep, err
		}
		rep.Keys++
	}

	for {
		var page api.ItemsResponse
		if err := c.getJSON(ctx, "/api/v1/journalist/items?after="+strconv.FormatInt(st.LastItem, 10), &page); err != nil {
			return rep, err
		}
		for _, it := range page.Items {
			if _, _, _, ok := parseItemFile(ItemFile(it.ID, it.Kind, false)); !ok || !conversationDir(it.Conversation) || it.ID == st.LastItem {
				return rep, fmt.Errorf("server sent a malformed item list")
			}
			if err := c.fetchItem(ctx, dir, it); err != nil {
				return rep, err
			}
			st.LastItem = it.ID
			rep.Items++
		}
		if err := writeState(dir, st); err != nil {
			return rep, err
		}
		if !page.More || len(page.Items) == 0 {
			break
		}
	}
	rep.LastItem = st.LastItem
	return rep, nil
}

func (c *Client) fetchItem(ctx context.Context, dir string, it api.Item) error {
	cdir := filepath.Join(dir, it.Conversation)
	if err := os.MkdirAll(cdir, 0o700); err != nil {
		return err
	}
	get := func(path, name string) error {
		resp, err := c.do(ctx, http.MethodGet, path, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		return writeFile(filepath.Join(cdir, name), resp.Body)
	}
	base := "/api/v1/journalist/items/" + strconv.FormatInt(it.ID, 10)
	if err := get(base, ItemFile(it.ID, it.Kind, false)); err != nil {
		return err
	}
	if it.HasMeta {
		if err := get(base+"/meta", ItemFile(it.ID, it.Kind, true)); err != nil {
			return err
		}
	}
	line, _ := json.Marshal(Entry{ID: it.ID, Kind: it.Kind, Created: it.Created.UTC().Format(time.RFC3339), Meta: it.HasMeta})
	f, err := os.OpenFile(filepath.Join(cdir, "items.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeFile writes r to name through a temporary file.
func writeFile(name string, r io.Reader) error {
	tmp := name + ".part"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, name)
}

func readState(dir string) (State, error) {
	var st State
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	} else if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil || st.LastItem < 0 {
		return st, fmt.Errorf("%s is damaged; pull into a new folder", filepath.Join(dir, StateFile))
	}
	if st.LastItem > 0 && !st.SealedIDs {
		// Pulled before item IDs were sealed (server migration 0006): its
		// last item's ID is no cursor the server knows any more.
		return st, fmt.Errorf("%s was pulled from a server of an older version, whose item IDs have changed since; pull into a new folder", dir)
	}
	return st, nil
}

func writeState(dir string, st State) error {
	st.SealedIDs = true
	b, _ := json.MarshalIndent(st, "", "  ")
	return writeFile(filepath.Join(dir, StateFile), bytes.NewReader(append(b, '\n')))
}
