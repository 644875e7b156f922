// Package wire holds the small protocol clients that the per-test isolation
// accessors (FreshDSN, FreshURL) use to administer a database server:
// PostgreSQL's simple query protocol, MySQL's text protocol and RESP. They
// speak only what those accessors need (log in, run a statement, read a few
// rows) so that a test binary does not link a full driver for it; tests
// keep using the drivers they choose.
package wire

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// PGError is an ErrorResponse of a PostgreSQL server.
type PGError struct {
	Severity string
	Code     string // SQLSTATE, e.g. "55006"
	Message  string
	Detail   string
	Hint     string
}

func (e *PGError) Error() string {
	s := e.Severity + ": " + e.Message + " (SQLSTATE " + e.Code + ")"
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// PG is a connection to a PostgreSQL server. It is not safe for concurrent
// use.
type PG struct {
	conn net.Conn
	r    *bufio.Reader
	w    []byte
	// Params are the server's ParameterStatus values (server_version...).
	Params map[string]string
}

// PGConfig says where and as whom to connect.
type PGConfig struct {
	Addr     string // host:port
	User     string
	Password string
	Database string
	// AppName is the session's application_name ("composegen" when
	// empty), which pg_stat_activity shows.
	AppName string
}

// DialPG connects and logs in (cleartext, MD5 or SCRAM-SHA-256 password
// authentication, or trust), without TLS. ctx bounds the connection and
// login; later calls are bounded by their own contexts.
func DialPG(ctx context.Context, cfg PGConfig) (*PG, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	c := &PG{conn: conn, r: bufio.NewReader(conn), Params: map[string]string{}}
	stop := c.bind(ctx)
	err = c.login(cfg)
	stop()
	if err != nil {
		conn.Close()
		return nil, ctxErr(ctx, err)
	}
	return c, nil
}

// bind makes ctx's end (or deadline) interrupt the connection's I/O.
func (c *PG) bind(ctx context.Context) (stop func()) { return bindConn(ctx, c.conn) }

// The I/O is interrupted from ctx's AfterFunc, not by a connection
// deadline of its own, so that ctx.Err is set whenever an interrupted call
// returns.
func bindConn(ctx context.Context, conn net.Conn) (stop func()) {
	_ = conn.SetDeadline(time.Time{})
	after := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return func() { after() }
}

// ctxErr prefers ctx's error to the I/O error its end caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// Close ends the session, and waits (a second at most) until the server
// has closed it: the server's session, and its place among its
// max_connections, is gone when Close returns.
func (c *PG) Close() error {
	_ = c.conn.SetDeadline(time.Now().Add(time.Second))
	c.w = append(c.w[:0], 'X', 0, 0, 0, 4)
	if _, err := c.conn.Write(c.w); err == nil {
		_, _ = io.Copy(io.Discard, c.conn)
	}
	return c.conn.Close()
}

// ServerVersionNum returns server_version as a number (150004 for 15.4), 0
// when unknown.
func (c *PG) ServerVersionNum() int {
	var nums []int
	for _, part := range strings.SplitN(c.Params["server_version"], ".", 3) {
		end := 0
		for end < len(part) && part[end] >= '0' && part[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(part[:end])
		if err != nil {
			break
		}
		nums = append(nums, n)
		if end < len(part) {
			break // "17beta1", "16.1 (Debian 16.1-1)"
		}
	}
	for len(nums) < 3 {
		nums = append(nums, 0)
	}
	if nums[0] >= 10 {
		return nums[0]*10000 + nums[1]
	}
	return nums[0]*10000 + nums[1]*100 + nums[2]
}

func (c *PG) startMsg(typ byte) {
	c.w = c.w[:0]
	if typ != 0 {
		c.w = append(c.w, typ)
	}
	c.w = append(c.w, 0, 0, 0, 0)
}

func (c *PG) cstr(s string) { c.w = append(c.w, s...); c.w = append(c.w, 0) }

func (c *PG) send() error {
	off := 0
	if c.w[0] >= 'A' {
		off = 1
	}
	binary.BigEndian.PutUint32(c.w[off:], uint32(len(c.w)-off))
	_, err := c.conn.Write(c.w)
	return err
}

// read returns the next message's type and body.
func (c *PG) read() (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(h[1:])) - 4
	if n < 0 || n > 64<<20 {
		return 0, nil, fmt.Errorf("postgres: bad message length %d", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return 0, nil, err
	}
	return h[0], body, nil
}

func (c *PG) login(cfg PGConfig) error {
	c.startMsg(0)
	c.w = append(c.w, 0, 3, 0, 0)
	c.cstr("user")
	c.cstr(cfg.User)
	c.cstr("database")
	c.cstr(cfg.Database)
	c.cstr("application_name")
	if cfg.AppName != "" {
		c.cstr(cfg.AppName)
	} else {
		c.cstr("composegen")
	}
	c.w = append(c.w, 0)
	if err := c.send(); err != nil {
		return err
	}
	var scram *scramClient
	for {
		typ, body, err := c.read()
		if err != nil {
			return err
		}
		switch typ {
		case 'E':
			return parsePGError(body)
		case 'R':
			if err := c.authenticate(cfg, body, &scram); err != nil {
				return err
			}
		case 'S':
			k, v, _ := strings.Cut(string(body), "\x00")
			c.Params[k] = strings.TrimSuffix(v, "\x00")
		case 'Z':
			return nil
		}
	}
}

// authenticate answers one authentication request (body of an 'R'
// message). A SCRAM exchange spans three requests; *scram carries it.
func (c *PG) authenticate(cfg PGConfig, body []byte, scram **scramClient) error {
	if len(body) < 4 {
		return errors.New("postgres: short authentication message")
	}
	switch code := binary.BigEndian.Uint32(body); code {
	case 0: // AuthenticationOk
		return nil
	case 3: // cleartext
		c.startMsg('p')
		c.cstr(cfg.Password)
	case 5: // MD5
		if len(body) < 8 {
			return errors.New("postgres: short MD5 salt")
		}
		c.startMsg('p')
		c.cstr(md5Password(cfg.User, cfg.Password, body[4:8]))
	case 10: // SASL
		if !strings.Contains(string(body[4:]), "SCRAM-SHA-256\x00") {
			return fmt.Errorf("postgres: no supported SASL mechanism in %q", body[4:])
		}
		*scram = newScram(cfg.Password)
		first := (*scram).first()
		c.startMsg('p')
		c.cstr("SCRAM-SHA-256")
		c.w = binary.BigEndian.AppendUint32(c.w, uint32(len(first)))
		c.w = append(c.w, first...)
	case 11: // SASLContinue
		if *scram == nil {
			return errors.New("postgres: SASL continue without SASL")
		}
		final, err := (*scram).final(body[4:])
		if err != nil {
			return err
		}
		c.startMsg('p')
		c.w = append(c.w, final...)
	case 12: // SASLFinal
		if *scram == nil || !(*scram).verify(body[4:]) {
			return errors.New("postgres: the server's SCRAM signature does not verify")
		}
		return nil
	default:
		return fmt.Errorf("postgres: unsupported authentication method %d", code)
	}
	return c.send()
}

func md5Password(user, password string, salt []byte) string {
	h := md5.Sum([]byte(password + user))
	inner := hex.EncodeToString(h[:])
	h = md5.Sum(append([]byte(inner), salt...))
	return "md5" + hex.EncodeToString(h[:])
}

// scramClient is the client side of SCRAM-SHA-256 (RFC 5802, 7677) as
// PostgreSQL uses it: no channel binding, the user name from the startup
// message.
type scramClient struct {
	user        string // "" for the startup message's (tests set it)
	password    string
	nonce       string
	firstBare   string
	serverSig   []byte
	authMessage string
}

func newScram(password string) *scramClient {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return &scramClient{password: password, nonce: base64.RawStdEncoding.EncodeToString(b[:])}
}

func (s *scramClient) first() []byte {
	s.firstBare = "n=" + s.user + ",r=" + s.nonce
	return []byte("n,," + s.firstBare)
}

func (s *scramClient) final(serverFirst []byte) ([]byte, error) {
	var nonce, salt string
	iter := 0
	for _, kv := range strings.Split(string(serverFirst), ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "r":
			nonce = v
		case "s":
			salt = v
		case "i":
			iter, _ = strconv.Atoi(v)
		}
	}
	if !strings.HasPrefix(nonce, s.nonce) || iter < 1 {
		return nil, errors.New("postgres: bad SCRAM server-first message")
	}
	saltB, err := base64.StdEncoding.DecodeString(salt)
	if err != nil {
		return nil, errors.New("postgres: bad SCRAM salt")
	}
	salted, err := pbkdf2.Key(sha256.New, s.password, saltB, iter, 32)
	if err != nil {
		return nil, err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	withoutProof := "c=biws,r=" + nonce
	s.authMessage = s.firstBare + "," + string(serverFirst) + "," + withoutProof
	sig := hmacSHA256(stored[:], s.authMessage)
	proof := make([]byte, len(clientKey))
	for i := range clientKey {
		proof[i] = clientKey[i] ^ sig[i]
	}
	serverKey := hmacSHA256(salted, "Server Key")
	s.serverSig = hmacSHA256(serverKey, s.authMessage)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

func (s *scramClient) verify(serverFinal []byte) bool {
	v, ok := strings.CutPrefix(string(serverFinal), "v=")
	if !ok {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	return err == nil && hmac.Equal(got, s.serverSig)
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func parsePGError(body []byte) *PGError {
	e := &PGError{}
	for len(body) > 1 {
		f := body[0]
		v, rest, _ := strings.Cut(string(body[1:]), "\x00")
		body = []byte(rest)
		switch f {
		case 'S':
			e.Severity = v
		case 'C':
			e.Code = v
		case 'M':
			e.Message = v
		case 'D':
			e.Detail = v
		case 'H':
			e.Hint = v
		}
	}
	return e
}

// Exec runs one or more statements with the simple query protocol and
// returns the rows of the last result (NULL as nil), as text.
func (c *PG) Exec(ctx context.Context, sql string) ([][]*string, error) {
	stop := c.bind(ctx)
	defer stop()
	c.startMsg('Q')
	c.cstr(sql)
	if err := c.send(); err != nil {
		return nil, ctxErr(ctx, err)
	}
	var rows [][]*string
	var firstErr error
	for {
		typ, body, err := c.read()
		if err != nil {
			return nil, ctxErr(ctx, err)
		}
		switch typ {
		case 'T':
			rows = nil
		case 'D':
			row, err := parseDataRow(body)
			if err != nil {
				return nil, err
			}
			rows = append(rows, row)
		case 'E':
			if firstErr == nil {
				firstErr = parsePGError(body)
			}
		case 'Z':
			return rows, firstErr
		}
	}
}

func parseDataRow(b []byte) ([]*string, error) {
	if len(b) < 2 {
		return nil, errors.New("postgres: short data row")
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	row := make([]*string, n)
	for i := 0; i < n; i++ {
		if len(b) < 4 {
			return nil, errors.New("postgres: short data row")
		}
		l := int(int32(binary.BigEndian.Uint32(b)))
		b = b[4:]
		if l < 0 {
			continue
		}
		if l > len(b) {
			return nil, errors.New("postgres: short data row")
		}
		v := string(b[:l])
		row[i] = &v
		b = b[l:]
	}
	return row, nil
}

// QuoteIdent quotes a PostgreSQL identifier.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QuoteLiteral quotes a PostgreSQL string literal (standard_conforming_strings
// on, the default since 9.1).
func QuoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }
