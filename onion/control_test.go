package onion

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Reply
		err      error
	}{
		{"ok", "250 OK\r\n", Reply{250, []string{"OK"}}, nil},
		{"lf only", "250 OK\n", Reply{250, []string{"OK"}}, nil},
		{"multi", "250-ServiceID=abc\r\n250 OK\r\n", Reply{250, []string{"ServiceID=abc", "OK"}}, nil},
		{"data", "250+onions/current=\r\nabc\r\n..dot\r\n.\r\n250 OK\r\n", Reply{250, []string{"onions/current=\nabc\n.dot", "OK"}}, nil},
		{"event skipped", "650 STATUS_GENERAL NOTICE X\r\n515 Authentication failed: Password did not match\r\n", Reply{515, []string{"Authentication failed: Password did not match"}}, nil},
		{"short", "25\r\n", Reply{}, ErrProtocol},
		{"no code", "abc OK\r\n", Reply{}, ErrProtocol},
		{"bad separator", "250/OK\r\n", Reply{}, ErrProtocol},
		{"code changes", "250-a\r\n251 b\r\n", Reply{}, ErrProtocol},
		{"long line", "250 " + strings.Repeat("a", maxLine+10) + "\r\n", Reply{}, ErrProtocol},
		{"endless", strings.Repeat("250-a\r\n", maxReplyLines+1), Reply{}, ErrProtocol},
		{"endless data", "250+x=\r\n" + strings.Repeat("a\r\n", maxReplyLines+1), Reply{}, ErrProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadReply(bufio.NewReader(strings.NewReader(tc.in)))
			if !errors.Is(err, tc.err) {
				t.Fatalf("error = %v, want %v", err, tc.err)
			}
			if got.Status != tc.want.Status || strings.Join(got.Lines, "|") != strings.Join(tc.want.Lines, "|") {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if _, err := ReadReply(bufio.NewReader(strings.NewReader("250-a\r\n"))); err == nil {
		t.Fatal("a cut reply was taken")
	}
}

func FuzzReadReply(f *testing.F) {
	f.Add("250 OK\r\n")
	f.Add("250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE=\"/x/control_auth_cookie\"\r\n250-VERSION Tor=\"0.4.9.11\"\r\n250 OK\r\n")
	f.Add("250+config/names=\r\na b\r\n.\r\n250 OK\r\n")
	f.Add("650 EVENT\r\n512 Invalid PoWQueueRate\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		r := bufio.NewReader(strings.NewReader(in))
		for range 100 {
			rep, err := ReadReply(r)
			if err != nil {
				return
			}
			if rep.Status < 100 || rep.Status > 599 || len(rep.Lines) == 0 || len(rep.Lines) > maxReplyLines {
				t.Fatalf("reply %+v from %q", rep, in)
			}
			for _, l := range rep.Lines {
				if len(l) > 4*maxLine+maxLine {
					t.Fatalf("line of %d bytes", len(l))
				}
			}
			_ = rep.Err()
		}
	})
}

func TestParseKV(t *testing.T) {
	kv := parseKV(`METHODS=COOKIE,SAFECOOKIE,HASHEDPASSWORD COOKIEFILE="/var/run/tor/a \"b\" c" X`)
	if kv["METHODS"] != "COOKIE,SAFECOOKIE,HASHEDPASSWORD" || kv["COOKIEFILE"] != `/var/run/tor/a "b" c` {
		t.Fatalf("%q", kv)
	}
}

func FuzzParseKV(f *testing.F) {
	f.Add(`METHODS=COOKIE COOKIEFILE="/x \"y\""`)
	f.Add(`SERVERHASH=ab SERVERNONCE=cd`)
	f.Fuzz(func(t *testing.T, s string) {
		for k, v := range parseKV(s) {
			if len(k)+len(v) > len(s) {
				t.Fatalf("%q: %q=%q longer than the input", s, k, v)
			}
		}
	})
}

func FuzzParseClients(f *testing.F) {
	f.Add("# comment\nudn5ubymtkrz4ezjdhovttpaw4jwvf3gg4ksq6bfiqafsbuzotcq\n")
	f.Add("descriptor:x25519:UDN5UBYMTKRZ4EZJDHOVTTPAW4JWVF3GG4KSQ6BFIQAFSBUZOTCQ")
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := ParseClients([]byte(s))
		if err != nil {
			return
		}
		if len(keys) == 0 || len(keys) > maxClients {
			t.Fatalf("%d keys", len(keys))
		}
		for _, k := range keys {
			if len(k) != 52 || strings.ToLower(k) != k {
				t.Fatalf("key %q not in canonical form", k)
			}
		}
	})
}

func TestParseClients(t *testing.T) {
	k, _, err := LoadOrCreateClientKey(t.TempDir()+"/a.auth_private", torProject)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.Public()
	for _, tc := range []struct {
		name, in string
		n        int
	}{
		{"one", pub + "\n", 1},
		{"tor's format, upper case", "descriptor:x25519:" + strings.ToUpper(pub), 1},
		{"comments", "# journalists\n\n" + pub + "\n  " + pub + "  \n", 2},
		{"empty", "# nobody\n", 0},
		{"private line", k.AuthLine(torProject), 0},
		{"short", pub[:51], 0},
		{"too many", strings.Repeat(pub+"\n", maxClients+1), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ParseClients([]byte(tc.in))
			if tc.n == 0 {
				if !errors.Is(err, ErrBadClients) {
					t.Fatalf("taken: %v %v", keys, err)
				}
				return
			}
			if err != nil || len(keys) != tc.n || keys[0] != pub {
				t.Fatalf("%v %v", keys, err)
			}
		})
	}
}
