package templates

import (
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// IsHTTPHealthcheck reports whether a compose healthcheck test fetches an
// HTTP URL of the container itself with curl or wget, such as
// ["CMD", "curl", "-f", "http://localhost:8080/health"] or
// ["CMD-SHELL", "wget -qO- http://127.0.0.1:3000/ || exit 1"], and returns the
// URL's port (80 when it has none) and path ("/" when empty). The scheme may be
// omitted ("curl --fail localhost:9200/_cluster/health"); the host must be a
// loopback name (localhost, 127.0.0.1, 0.0.0.0, ::1). A URL with an
// unresolved ${VAR} is not recognised.
func IsHTTPHealthcheck(test []string) (port int, urlPath string, ok bool) {
	if len(test) == 0 {
		return 0, "", false
	}
	var args []string
	switch test[0] {
	case "CMD":
		args = test[1:]
	case "CMD-SHELL":
		args = shellWords(strings.Join(test[1:], " "))
	case "NONE":
		return 0, "", false
	default:
		args = shellWords(strings.Join(test, " "))
	}
	inFetch := false
	for _, a := range args {
		switch {
		case a == "||" || a == "&&" || a == ";" || a == "|":
			inFetch = false
		case isFetchCommand(a):
			inFetch = true
		case inFetch && !strings.HasPrefix(a, "-"):
			if p, up, ok := loopbackHTTPURL(a); ok {
				return p, up, true
			}
		}
	}
	return 0, "", false
}

func isFetchCommand(a string) bool {
	switch path.Base(a) {
	case "curl", "wget":
		return true
	}
	return false
}

// loopbackHTTPURL parses an http URL (scheme optional) of a loopback host.
func loopbackHTTPURL(a string) (int, string, bool) {
	if strings.Contains(a, "$") {
		return 0, "", false
	}
	if !strings.Contains(a, "://") {
		a = "http://" + a
	}
	u, err := url.Parse(a)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return 0, "", false
	}
	switch h := u.Hostname(); h {
	case "localhost", "127.0.0.1", "0.0.0.0", "::1":
	default:
		if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
			return 0, "", false
		}
	}
	port := 80
	if ps := u.Port(); ps != "" {
		p, err := strconv.Atoi(ps)
		if err != nil || p <= 0 || p > 65535 {
			return 0, "", false
		}
		port = p
	}
	p := u.Path
	if p == "" {
		p = "/"
	}
	return port, p, true
}

// shellWords splits a shell command line into words, honouring single and
// double quotes and backslashes, and returns the operators ||, &&, | and ;
// as words of their own. It is enough for healthcheck one-liners; it does
// not expand anything.
func shellWords(s string) []string {
	var (
		out    []string
		cur    strings.Builder
		inWord bool
	)
	flush := func() {
		if inWord {
			out = append(out, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			flush()
		case c == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				cur.WriteString(s[i+1:])
				i = len(s)
			} else {
				cur.WriteString(s[i+1 : i+1+j])
				i += j + 1
			}
		case c == '"':
			inWord = true
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				cur.WriteByte(s[i])
			}
		case c == '\\' && i+1 < len(s):
			inWord = true
			i++
			cur.WriteByte(s[i])
		case c == '|' || c == '&' || c == ';':
			flush()
			op := string(c)
			if i+1 < len(s) && s[i+1] == c && c != ';' {
				op += string(c)
				i++
			}
			out = append(out, op)
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}
