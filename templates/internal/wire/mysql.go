package wire

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// MySQLError is an ERR packet of a MySQL or MariaDB server.
type MySQLError struct {
	Code     int    // 1044, 1045, 1227...
	SQLState string // "42000"
	Message  string
}

func (e *MySQLError) Error() string {
	return fmt.Sprintf("Error %d (%s): %s", e.Code, e.SQLState, e.Message)
}

// MySQL is a connection to a MySQL or MariaDB server speaking the text
// protocol. It is not safe for concurrent use.
type MySQL struct {
	conn net.Conn
	r    *bufio.Reader
	seq  byte
	// Version is the server's version string ("10.11.6-MariaDB-0+deb12u1").
	Version string
}

// MySQLConfig says where and as whom to connect.
type MySQLConfig struct {
	Addr     string
	User     string
	Password string
	Database string // "" for none
}

// Capability flags.
const (
	clientLongPassword     = 1 << 0
	clientConnectWithDB    = 1 << 3
	clientProtocol41       = 1 << 9
	clientTransactions     = 1 << 13
	clientSecureConnection = 1 << 15
	clientMultiStatements  = 1 << 16
	clientMultiResults     = 1 << 17
	clientPluginAuth       = 1 << 19

	serverMoreResultsExist = 0x0008
)

// DialMySQL connects and logs in (mysql_native_password or
// caching_sha2_password, the latter's full authentication with the
// server's RSA key), without TLS. Multiple statements per Exec are allowed.
func DialMySQL(ctx context.Context, cfg MySQLConfig) (*MySQL, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	c := &MySQL{conn: conn, r: bufio.NewReader(conn)}
	stop := bindConn(ctx, conn)
	err = c.login(cfg)
	stop()
	if err != nil {
		conn.Close()
		return nil, ctxErr(ctx, err)
	}
	return c, nil
}

// Close ends the session (COM_QUIT), and waits (a second at most) until
// the server has closed it.
func (c *MySQL) Close() error {
	_ = c.conn.SetDeadline(time.Now().Add(time.Second))
	c.seq = 0
	if err := c.write([]byte{0x01}); err == nil {
		_, _ = io.Copy(io.Discard, c.conn)
	}
	return c.conn.Close()
}

func (c *MySQL) read() ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return nil, err
	}
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	c.seq = h[3] + 1
	if n == 0xffffff {
		return nil, errors.New("mysql: packets of 16 MiB and more are not supported")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return nil, err
	}
	return b, nil
}

func (c *MySQL) write(b []byte) error {
	if len(b) >= 0xffffff {
		return errors.New("mysql: statement too long")
	}
	p := make([]byte, 4, 4+len(b))
	p[0], p[1], p[2], p[3] = byte(len(b)), byte(len(b)>>8), byte(len(b)>>16), c.seq
	c.seq++
	_, err := c.conn.Write(append(p, b...))
	return err
}

func parseMySQLError(b []byte) *MySQLError {
	e := &MySQLError{}
	if len(b) >= 3 {
		e.Code = int(binary.LittleEndian.Uint16(b[1:3]))
		b = b[3:]
	}
	if len(b) >= 6 && b[0] == '#' {
		e.SQLState = string(b[1:6])
		b = b[6:]
	}
	e.Message = string(b)
	return e
}

func (c *MySQL) login(cfg MySQLConfig) error {
	hs, err := c.read()
	if err != nil {
		return err
	}
	if len(hs) > 0 && hs[0] == 0xff {
		return parseMySQLError(hs)
	}
	if len(hs) < 1 || hs[0] != 10 {
		return fmt.Errorf("mysql: unsupported handshake protocol %v", hs[:min(1, len(hs))])
	}
	p := hs[1:]
	i := bytes.IndexByte(p, 0)
	if i < 0 {
		return errors.New("mysql: bad handshake")
	}
	c.Version = string(p[:i])
	p = p[i+1:]
	if len(p) < 4+8+1+2+1+2+2+1+10 {
		return errors.New("mysql: short handshake")
	}
	nonce := append([]byte(nil), p[4:12]...)
	p = p[13:]
	caps := uint32(binary.LittleEndian.Uint16(p))
	p = p[2+1+2:]
	caps |= uint32(binary.LittleEndian.Uint16(p)) << 16
	authLen := int(p[2])
	p = p[3+10:]
	plugin := "mysql_native_password"
	if caps&clientSecureConnection != 0 {
		n := max(13, authLen-8)
		if n > len(p) {
			n = len(p)
		}
		nonce = append(nonce, bytes.TrimRight(p[:n], "\x00")...)
		p = p[n:]
	}
	if caps&clientPluginAuth != 0 {
		if i := bytes.IndexByte(p, 0); i >= 0 {
			plugin = string(p[:i])
		} else if len(p) > 0 {
			plugin = string(p)
		}
	}
	if caps&clientProtocol41 == 0 || caps&clientSecureConnection == 0 {
		return errors.New("mysql: the server is too old (no 4.1 protocol)")
	}
	auth, err := authResponse(plugin, cfg.Password, nonce)
	if err != nil {
		return err
	}
	flags := uint32(clientLongPassword | clientProtocol41 | clientTransactions | clientSecureConnection |
		clientMultiStatements | clientMultiResults | clientPluginAuth)
	if cfg.Database != "" {
		flags |= clientConnectWithDB
	}
	resp := binary.LittleEndian.AppendUint32(nil, flags)
	resp = binary.LittleEndian.AppendUint32(resp, 1<<24)
	resp = append(resp, 45) // utf8mb4_general_ci
	resp = append(resp, make([]byte, 23)...)
	resp = append(append(resp, cfg.User...), 0)
	resp = append(append(resp, byte(len(auth))), auth...)
	if cfg.Database != "" {
		resp = append(append(resp, cfg.Database...), 0)
	}
	resp = append(append(resp, plugin...), 0)
	if err := c.write(resp); err != nil {
		return err
	}
	return c.authLoop(cfg, plugin, nonce)
}

// authLoop reads the server's answers to the authentication until OK.
func (c *MySQL) authLoop(cfg MySQLConfig, plugin string, nonce []byte) error {
	for {
		b, err := c.read()
		if err != nil {
			return err
		}
		if len(b) == 0 {
			return errors.New("mysql: empty authentication packet")
		}
		switch b[0] {
		case 0x00:
			return nil
		case 0xff:
			return parseMySQLError(b)
		case 0xfe: // auth switch: plugin name, then its nonce
			rest := b[1:]
			i := bytes.IndexByte(rest, 0)
			if i < 0 {
				return errors.New("mysql: bad auth switch request")
			}
			plugin, nonce = string(rest[:i]), bytes.TrimRight(rest[i+1:], "\x00")
			auth, err := authResponse(plugin, cfg.Password, nonce)
			if err != nil {
				return err
			}
			if err := c.write(auth); err != nil {
				return err
			}
		case 0x01: // more data: caching_sha2_password
			if plugin != "caching_sha2_password" || len(b) < 2 {
				return fmt.Errorf("mysql: unexpected authentication data for %s", plugin)
			}
			switch b[1] {
			case 3: // fast authentication succeeded; OK follows
			case 4: // full authentication: ask for the server's public key
				if err := c.write([]byte{2}); err != nil {
					return err
				}
				key, err := c.read()
				if err != nil {
					return err
				}
				if len(key) == 0 || key[0] != 0x01 {
					if len(key) > 0 && key[0] == 0xff {
						return parseMySQLError(key)
					}
					return errors.New("mysql: no public key from the server")
				}
				enc, err := encryptPassword(cfg.Password, nonce, key[1:])
				if err != nil {
					return err
				}
				if err := c.write(enc); err != nil {
					return err
				}
			default:
				if len(b) > 1 && b[1] == '-' { // a PEM key sent unasked
					continue
				}
				return fmt.Errorf("mysql: unexpected caching_sha2_password state %d", b[1])
			}
		default:
			return fmt.Errorf("mysql: unexpected authentication packet 0x%02x", b[0])
		}
	}
}

// authResponse computes the scramble of password for plugin.
func authResponse(plugin, password string, nonce []byte) ([]byte, error) {
	if password == "" {
		return nil, nil
	}
	switch plugin {
	case "mysql_native_password":
		// SHA1(password) XOR SHA1(nonce + SHA1(SHA1(password)))
		h1 := sha1.Sum([]byte(password))
		h2 := sha1.Sum(h1[:])
		h := sha1.New()
		h.Write(nonce[:min(20, len(nonce))])
		h.Write(h2[:])
		out := h.Sum(nil)
		for i := range out {
			out[i] ^= h1[i]
		}
		return out, nil
	case "caching_sha2_password":
		// SHA256(password) XOR SHA256(SHA256(SHA256(password)) + nonce)
		h1 := sha256.Sum256([]byte(password))
		h2 := sha256.Sum256(h1[:])
		h := sha256.New()
		h.Write(h2[:])
		h.Write(nonce)
		out := h.Sum(nil)
		for i := range out {
			out[i] ^= h1[i]
		}
		return out, nil
	case "mysql_clear_password":
		return append([]byte(password), 0), nil
	}
	return nil, fmt.Errorf("mysql: authentication plugin %q is not supported (use mysql_native_password or caching_sha2_password for the account FreshDSN logs in with)", plugin)
}

// encryptPassword encrypts password (NUL-terminated, XORed with the nonce)
// with the server's RSA public key, as caching_sha2_password's full
// authentication without TLS asks.
func encryptPassword(password string, nonce, pemKey []byte) ([]byte, error) {
	block, _ := pem.Decode(pemKey)
	if block == nil {
		return nil, errors.New("mysql: bad public key from the server")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("mysql: server public key: %w", err)
	}
	rsaKey, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("mysql: the server's public key is not RSA")
	}
	plain := append([]byte(password), 0)
	for i := range plain {
		plain[i] ^= nonce[i%len(nonce)]
	}
	return rsa.EncryptOAEP(sha1.New(), rand.Reader, rsaKey, plain, nil)
}

// Exec runs statements (several, separated by ';', are allowed) and returns
// the rows of the last result set (NULL as nil), as text.
func (c *MySQL) Exec(ctx context.Context, sql string) ([][]*string, error) {
	stop := bindConn(ctx, c.conn)
	defer stop()
	c.seq = 0
	if err := c.write(append([]byte{0x03}, sql...)); err != nil {
		return nil, ctxErr(ctx, err)
	}
	var rows [][]*string
	var firstErr error
	for {
		more, rs, err := c.result()
		if err != nil {
			var me *MySQLError
			if !errors.As(err, &me) {
				return nil, ctxErr(ctx, err)
			}
			// An error ends a multi-statement query.
			return nil, err
		}
		if rs != nil {
			rows = rs
		}
		if !more {
			return rows, firstErr
		}
	}
}

// result reads one result: OK, ERR or a result set.
func (c *MySQL) result() (more bool, rows [][]*string, err error) {
	b, err := c.read()
	if err != nil {
		return false, nil, err
	}
	if len(b) == 0 {
		return false, nil, errors.New("mysql: empty result packet")
	}
	switch b[0] {
	case 0x00:
		_, p := lenenc(b[1:])
		_, p = lenenc(p)
		if len(p) >= 2 {
			return binary.LittleEndian.Uint16(p)&serverMoreResultsExist != 0, nil, nil
		}
		return false, nil, nil
	case 0xff:
		return false, nil, parseMySQLError(b)
	case 0xfb:
		return false, nil, errors.New("mysql: LOCAL INFILE is not supported")
	}
	ncols, _ := lenenc(b)
	for i := uint64(0); i < ncols; i++ {
		if _, err := c.read(); err != nil {
			return false, nil, err
		}
	}
	if _, err = c.read(); err != nil { // EOF after the column definitions
		return false, nil, err
	}
	rows = [][]*string{}
	for {
		b, err := c.read()
		if err != nil {
			return false, nil, err
		}
		switch {
		case len(b) > 0 && b[0] == 0xff:
			return false, nil, parseMySQLError(b)
		case len(b) > 0 && b[0] == 0xfe && len(b) < 9: // EOF
			status := uint16(0)
			if len(b) >= 5 {
				status = binary.LittleEndian.Uint16(b[3:5])
			}
			return status&serverMoreResultsExist != 0, rows, nil
		}
		row := make([]*string, 0, ncols)
		p := b
		for i := uint64(0); i < ncols; i++ {
			if len(p) > 0 && p[0] == 0xfb {
				row = append(row, nil)
				p = p[1:]
				continue
			}
			n, rest := lenenc(p)
			if uint64(len(rest)) < n {
				return false, nil, errors.New("mysql: short row")
			}
			v := string(rest[:n])
			row = append(row, &v)
			p = rest[n:]
		}
		rows = append(rows, row)
	}
}

// lenenc reads a length-encoded integer.
func lenenc(b []byte) (uint64, []byte) {
	if len(b) == 0 {
		return 0, b
	}
	switch b[0] {
	case 0xfc:
		if len(b) >= 3 {
			return uint64(binary.LittleEndian.Uint16(b[1:])), b[3:]
		}
	case 0xfd:
		if len(b) >= 4 {
			return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, b[4:]
		}
	case 0xfe:
		if len(b) >= 9 {
			return binary.LittleEndian.Uint64(b[1:]), b[9:]
		}
	default:
		return uint64(b[0]), b[1:]
	}
	return 0, nil
}

// QuoteMySQLIdent quotes a MySQL identifier.
func QuoteMySQLIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// QuoteMySQLString quotes a MySQL string literal by doubling its quotes,
// which means the same with and without NO_BACKSLASH_ESCAPES for a string
// without backslashes; ok is false for one with backslashes or NUL bytes.
func QuoteMySQLString(s string) (quoted string, ok bool) {
	if strings.ContainsAny(s, "\\\x00") {
		return "", false
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'", true
}
