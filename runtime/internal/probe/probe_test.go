package probe

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// serve runs server on the far end of a pipe and probes the near end.
func serve(t *testing.T, protocol string, server func(c net.Conn)) error {
	t.Helper()
	near, far := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer far.Close()
		server(far)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	err := Conn(ctx, protocol, near)
	near.Close()
	<-done
	return err
}

// pgError is a PostgreSQL ErrorResponse with SQLSTATE code.
func pgError(code, msg string) []byte {
	body := "SFATAL\x00C" + code + "\x00M" + msg + "\x00\x00"
	b := []byte{'E', 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(4+len(body)))
	return append(b, body...)
}

// readStartup reads a StartupMessage and checks its protocol version.
func readStartup(t *testing.T, c net.Conn) {
	var lb [4]byte
	if _, err := io.ReadFull(c, lb[:]); err != nil {
		t.Errorf("read startup length: %v", err)
		return
	}
	rest := make([]byte, binary.BigEndian.Uint32(lb[:])-4)
	if _, err := io.ReadFull(c, rest); err != nil {
		t.Errorf("read startup: %v", err)
		return
	}
	if binary.BigEndian.Uint32(rest) != 3<<16 {
		t.Errorf("protocol version %x", rest[:4])
	}
}

func TestPostgres(t *testing.T) {
	for name, tt := range map[string]struct {
		answer  []byte
		wantErr string
	}{
		"authentication request": {answer: []byte{'R', 0, 0, 0, 12, 0, 0, 0, 10}},
		"unknown role":           {answer: pgError("28000", `role "composegen_probe" does not exist`)},
		"starting up":            {answer: pgError("57P03", "the database system is starting up"), wantErr: "starting up"},
		"shutting down":          {answer: pgError("57P01", "terminating connection"), wantErr: "57P01"},
		"closed":                 {wantErr: "no answer to startup"},
	} {
		t.Run(name, func(t *testing.T) {
			err := serve(t, "postgres", func(c net.Conn) {
				readStartup(t, c)
				if tt.answer != nil {
					_, _ = c.Write(tt.answer)
				}
			})
			checkErr(t, err, tt.wantErr)
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("probe failed: %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("probe error %v, want one containing %q", err, want)
	}
}

// readLine reads up to and including '\n'.
func readLine(c net.Conn) string {
	var b []byte
	var one [1]byte
	for {
		if _, err := c.Read(one[:]); err != nil {
			return string(b)
		}
		b = append(b, one[0])
		if one[0] == '\n' {
			return string(b)
		}
	}
}

func TestRedis(t *testing.T) {
	for name, tt := range map[string]struct{ answer, wantErr string }{
		"pong":      {answer: "+PONG\r\n"},
		"noauth":    {answer: "-NOAUTH Authentication required.\r\n"},
		"loading":   {answer: "-LOADING Redis is loading the dataset in memory\r\n", wantErr: "LOADING"},
		"busy":      {answer: "-BUSY Redis is busy running a script\r\n", wantErr: "BUSY"},
		"no answer": {wantErr: "no answer to PING"},
	} {
		t.Run(name, func(t *testing.T) {
			err := serve(t, "redis", func(c net.Conn) {
				if got := readLine(c); got != "PING\r\n" {
					t.Errorf("sent %q", got)
				}
				_, _ = io.WriteString(c, tt.answer)
			})
			checkErr(t, err, tt.wantErr)
		})
	}
}

func TestMySQL(t *testing.T) {
	greeting := append([]byte{5, 0, 0, 0}, []byte{10, '1', '0', '.', '1'}...)
	for name, tt := range map[string]struct {
		answer  []byte
		wantErr string
	}{
		"greeting":     {answer: greeting},
		"error packet": {answer: append([]byte{9, 0, 0, 0, 0xff, 0x6a, 0x04}, "#HY000"...)},
		"empty packet": {answer: []byte{0, 0, 0, 0}, wantErr: "bad greeting"},
		"closed":       {wantErr: "no greeting"},
	} {
		t.Run(name, func(t *testing.T) {
			err := serve(t, "mysql", func(c net.Conn) { _, _ = c.Write(tt.answer) })
			checkErr(t, err, tt.wantErr)
		})
	}
}

func TestMemcached(t *testing.T) {
	for name, tt := range map[string]struct{ answer, wantErr string }{
		"version": {answer: "VERSION 1.6.18\r\n"},
		"other":   {answer: "ERROR\r\n", wantErr: "unexpected answer"},
	} {
		t.Run(name, func(t *testing.T) {
			err := serve(t, "memcached", func(c net.Conn) {
				if got := readLine(c); got != "version\r\n" {
					t.Errorf("sent %q", got)
				}
				_, _ = io.WriteString(c, tt.answer)
			})
			checkErr(t, err, tt.wantErr)
		})
	}
}

func TestAMQP(t *testing.T) {
	for name, tt := range map[string]struct {
		answer  []byte
		wantErr string
	}{
		"connection.start":  {answer: []byte{1, 0, 0}},
		"protocol mismatch": {answer: []byte("AMQP\x00\x00\x09\x01"), wantErr: "unexpected frame type"},
		"closed":            {wantErr: "no answer to protocol header"},
	} {
		t.Run(name, func(t *testing.T) {
			err := serve(t, "amqp", func(c net.Conn) {
				hdr := make([]byte, 8)
				if _, err := io.ReadFull(c, hdr); err != nil || string(hdr) != "AMQP\x00\x00\x09\x01" {
					t.Errorf("header %q, %v", hdr, err)
				}
				_, _ = c.Write(tt.answer)
			})
			checkErr(t, err, tt.wantErr)
		})
	}
}

func TestTCP(t *testing.T) {
	t.Run("stays open", func(t *testing.T) {
		err := serve(t, "tcp", func(c net.Conn) { time.Sleep(2 * tcpQuiet) })
		checkErr(t, err, "")
	})
	t.Run("greets", func(t *testing.T) {
		err := serve(t, "tcp", func(c net.Conn) { _, _ = io.WriteString(c, "220 ready\r\n") })
		checkErr(t, err, "")
	})
	t.Run("closes at once", func(t *testing.T) {
		err := serve(t, "tcp", func(c net.Conn) {})
		checkErr(t, err, "connection closed at once")
	})
}

func TestUnknownProtocol(t *testing.T) {
	checkErr(t, serve(t, "gopher", func(net.Conn) {}), `unknown probe protocol "gopher"`)
}

// A probe ends when its context does, even if the server never answers.
func TestCancel(t *testing.T) {
	near, far := net.Pipe()
	defer far.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.ReadFull(far, make([]byte, 6)) // swallow PING, never answer
		cancel()
	}()
	start := time.Now()
	err := Conn(ctx, "redis", near)
	if err == nil || time.Since(start) > time.Second {
		t.Fatalf("probe returned %v after %s", err, time.Since(start))
	}
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/redirect":
			http.Redirect(w, r, "https://elsewhere.invalid/", http.StatusFound)
		case "/missing":
			http.NotFound(w, r)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	for path, want := range map[string]string{"/ok": "", "/redirect": "", "/missing": "", "/starting": "503"} {
		checkErr(t, Run(context.Background(), "http", path, addr), want)
	}
}

// Run dials: a closed port fails with the dial error.
func TestRunRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if err := Run(context.Background(), "postgres", "", addr); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Run = %v, want connection refused", err)
	}
}
