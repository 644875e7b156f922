package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// RFC 7677, section 3: the SCRAM-SHA-256 exchange of user "user" with
// password "pencil".
func TestSCRAMVector(t *testing.T) {
	s := &scramClient{user: "user", password: "pencil", nonce: "rOprNGfwEbeRWgbNEkqO"}
	if got := string(s.first()); got != "n,,n=user,r=rOprNGfwEbeRWgbNEkqO" {
		t.Fatalf("client-first %q", got)
	}
	final, err := s.final([]byte("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"))
	if err != nil {
		t.Fatal(err)
	}
	want := "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	if string(final) != want {
		t.Fatalf("client-final\n%s\nwant\n%s", final, want)
	}
	if !s.verify([]byte("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")) {
		t.Error("the server's signature did not verify")
	}
	if s.verify([]byte("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")) {
		t.Error("a wrong server signature verified")
	}
	if _, err := s.final([]byte("r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")); err == nil {
		t.Error("a server nonce that does not extend ours was accepted")
	}
}

func TestMD5Password(t *testing.T) {
	// "md5" + md5(md5("secret" + "postgres") + salt), computed apart.
	if got := md5Password("postgres", "secret", []byte("abcd")); got != "md568a34aeb823f3662497ea0b9fb65e46a" {
		t.Errorf("md5Password = %q", got)
	}
	if md5Password("a", "b", []byte("salt")) == md5Password("a", "c", []byte("salt")) {
		t.Error("two passwords gave the same answer")
	}
}

// fakePG serves one connection: trust authentication, then answers each
// query with the messages of answer.
func fakePG(t *testing.T, answer func(sql string) [][]byte) *PG {
	client, server := net.Pipe()
	go func() {
		defer server.Close()
		r := bufio.NewReader(server)
		var n [4]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return
		}
		if _, err := io.ReadFull(r, make([]byte, binary.BigEndian.Uint32(n[:])-4)); err != nil {
			return
		}
		send := func(msgs ...[]byte) {
			for _, m := range msgs {
				if _, err := server.Write(m); err != nil {
					return
				}
			}
		}
		send(msg('R', 0, 0, 0, 0), msg('S', []byte("server_version\x0015.4 (Debian)\x00")...), msg('Z', 'I'))
		for {
			typ, err := r.ReadByte()
			if err != nil {
				return
			}
			if _, err := io.ReadFull(r, n[:]); err != nil {
				return
			}
			body := make([]byte, binary.BigEndian.Uint32(n[:])-4)
			if _, err := io.ReadFull(r, body); err != nil {
				return
			}
			if typ != 'Q' {
				return
			}
			send(answer(strings.TrimSuffix(string(body), "\x00"))...)
		}
	}()
	c := &PG{conn: client, r: bufio.NewReader(client), Params: map[string]string{}}
	if err := c.login(PGConfig{User: "u", Database: "d"}); err != nil {
		t.Fatal(err)
	}
	return c
}

func msg(typ byte, body ...byte) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(body)+4))
	return append(b, body...)
}

func dataRow(vals ...*string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(vals)))
	for _, v := range vals {
		if v == nil {
			b = binary.BigEndian.AppendUint32(b, 0xffffffff)
			continue
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(*v)))
		b = append(b, *v...)
	}
	return msg('D', b...)
}

func TestPGExec(t *testing.T) {
	one, two := "1", "two"
	c := fakePG(t, func(sql string) [][]byte {
		switch sql {
		case "SELECT":
			return [][]byte{msg('T', 0, 2), dataRow(&one, nil), dataRow(&two, &one), msg('C', []byte("SELECT 2\x00")...), msg('Z', 'I')}
		default:
			e := "SERROR\x00C55006\x00Msource database \"app\" is being accessed by other users\x00DThere is 1 other session using the database.\x00\x00"
			return [][]byte{msg('E', []byte(e)...), msg('Z', 'I')}
		}
	})
	defer c.Close()
	if v := c.ServerVersionNum(); v != 150004 {
		t.Errorf("ServerVersionNum = %d", v)
	}
	rows, err := c.Exec(context.Background(), "SELECT")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || *rows[0][0] != "1" || rows[0][1] != nil || *rows[1][0] != "two" {
		t.Errorf("rows = %v", rows)
	}
	_, err = c.Exec(context.Background(), "CREATE")
	var pe *PGError
	if !errors.As(err, &pe) || pe.Code != "55006" || !strings.Contains(pe.Detail, "1 other session") {
		t.Errorf("error = %#v", err)
	}
	// The session is still usable after an error.
	if _, err := c.Exec(context.Background(), "SELECT"); err != nil {
		t.Error(err)
	}
}

func TestPGExecHonoursContext(t *testing.T) {
	// The server does not answer until the test ends (the Close below
	// writes to the server, which then reads again).
	release := make(chan struct{})
	c := fakePG(t, func(string) [][]byte { <-release; return nil })
	defer c.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if _, err := c.Exec(ctx, "SELECT pg_sleep(10)"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec past its deadline: %v", err)
	}
	if time.Since(t0) > 500*time.Millisecond {
		t.Errorf("Exec returned %s after its deadline", time.Since(t0))
	}
}

func TestServerVersionNum(t *testing.T) {
	for v, want := range map[string]int{"15.4": 150004, "16.1 (Debian 16.1-1)": 160001, "9.6.24": 90624, "17beta1": 170000, "": 0} {
		c := &PG{Params: map[string]string{"server_version": v}}
		if got := c.ServerVersionNum(); got != want {
			t.Errorf("ServerVersionNum(%q) = %d, want %d", v, got, want)
		}
	}
}

func TestQuote(t *testing.T) {
	if got := QuoteIdent(`a"b`); got != `"a""b"` {
		t.Errorf("QuoteIdent = %s", got)
	}
	if got := QuoteLiteral(`it's`); got != `'it''s'` {
		t.Errorf("QuoteLiteral = %s", got)
	}
}

func TestRedisReplies(t *testing.T) {
	client, server := net.Pipe()
	go func() {
		defer server.Close()
		r := bufio.NewReader(server)
		replies := []string{"+OK\r\n", "-ERR unknown command\r\n", "*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n", ":42\r\n", "$-1\r\n"}
		for _, rep := range replies {
			// Read one command: *N then N pairs of lines.
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			n := 0
			for _, c := range strings.TrimSpace(line[1:]) {
				n = n*10 + int(c-'0')
			}
			for i := 0; i < 2*n; i++ {
				if _, err := r.ReadString('\n'); err != nil {
					return
				}
			}
			if _, err := server.Write([]byte(rep)); err != nil {
				return
			}
		}
	}()
	c := &Redis{conn: client, r: bufio.NewReader(client)}
	ctx := context.Background()
	if v, err := c.Do(ctx, "SELECT", "3"); err != nil || v != "OK" {
		t.Errorf("simple string: %v %v", v, err)
	}
	var re *RedisError
	if _, err := c.Do(ctx, "NOPE"); !errors.As(err, &re) || re.Msg != "ERR unknown command" {
		t.Errorf("error reply: %v", err)
	}
	if v, err := c.Do(ctx, "CONFIG", "GET", "databases"); err != nil || len(v.([]any)) != 2 || v.([]any)[1] != "16" {
		t.Errorf("array: %v %v", v, err)
	}
	if v, err := c.Do(ctx, "DBSIZE"); err != nil || v != "42" {
		t.Errorf("integer: %v %v", v, err)
	}
	if v, err := c.Do(ctx, "GET", "x"); err != nil || v != "" {
		t.Errorf("nil bulk: %v %v", v, err)
	}
}
