package mask

import (
	"sort"
	"strings"
)

// Text returns s with the secrets it shows by their shape replaced by
// Hidden, whatever the name of the variable they came from. It finds them
// in any text (a command line, a log line, an error message) in one pass
// over its words, without regular expressions:
//
//   - the password of a URL's user information: scheme://user:PASS@host;
//   - the credentials of an Authorization or Proxy-Authorization header
//     (Authorization: Bearer TOKEN, Basic B64...), and the value of a
//     header whose name says it is a secret (X-Api-Key: K, X-Auth-Token: T,
//     Cookie: C), in a log line or in a curl/wget -H/--header argument;
//   - a credential after the word Bearer or Basic in prose, when it looks
//     like one (8 characters or more of a token, not an English word);
//   - key=value pairs whose key says it is a secret (password=, pwd=,
//     passwd=, secret=, token=, api_key=, AccountKey=, PGPASSWORD=...,
//     case-insensitive), alone, in libpq or ODBC connection strings (space-
//     or ;-separated, quoted values like password='a b'), in URL queries,
//     in shell assignments (PGPASSWORD=x psql) and as --flag=value;
//   - secret-named JSON keys ("password": "x") and Go's {Password:x};
//   - the value of a --password, --pass, --token, --secret, --api-key...
//     flag written --flag value;
//   - -pSECRET of the MySQL and MariaDB clients (mysql, mariadb,
//     mysqladmin, mysqldump...), -a PASS of redis-cli, -p PASS of the
//     MongoDB shells, -u user:PASS of curl and wget. These are recognised
//     only after the client's name in the same command: -p 5432 of psql is
//     a port and stays.
//
// A key whose last word describes something else than the secret
// (password_reset_url=, token_type=, auth_method=, authSource=,
// access_key_id=) is not a secret, nor is a template value ($X, ${X}).
// Text is idempotent.
func Text(s string) string {
	sp := shapeSpans(s)
	if len(sp) == 0 {
		return s
	}
	return replaceSpans(s, sp)
}

// Secrets returns the secret values that Text hides in s, for a Masker to
// learn: a secret seen once in a connection string is then hidden wherever
// it appears.
func Secrets(s string) []string {
	var out []string
	for _, p := range shapeSpans(s) {
		if v := s[p.a:p.b]; worthMasking(v) {
			out = append(out, v)
		}
	}
	return out
}

type span struct{ a, b int }

// byteSet is a set of bytes, for scanning without searching strings.
type byteSet [256]bool

func newByteSet(chars string) (s byteSet) {
	for i := 0; i < len(chars); i++ {
		s[chars[i]] = true
	}
	return s
}

var (
	noStop     byteSet
	kvStop     = newByteSet(";&`\"'")        // ends a key=value value
	jsonStop   = newByteSet(",}")            // ends an unquoted JSON or {Key:value} value
	valueClose = newByteSet(`"')]},`)        // trimmed from the end of a value
	bareOpen   = newByteSet(`"'([{`)         // trimmed from the start of a word
	bareClose  = newByteSet(`"')]};,`)       // trimmed from the end of a word
	keyStart   = newByteSet(";&?,=({[`\"'")  // may come before a key
	urlEnd     = newByteSet(" \t\n\r\"'/?#") // ends a URL's authority
)

// maxQuoted bounds the search for the end of a quoted value, so that a line
// of unterminated quotes stays linear.
const maxQuoted = 1024

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isQuote(c byte) bool { return c == '"' || c == '\'' }

// shapeSpans returns the spans of s that hold secrets, by shape.
func shapeSpans(s string) []span {
	var sp []span
	if strings.Contains(s, "://") && strings.IndexByte(s, '@') >= 0 {
		sp = urlSpans(s, sp)
	}
	sc := scanner{s: s, spans: sp}
	sc.run()
	return sc.spans
}

type scanner struct {
	s     string
	spans []span
	tool  string // the known client of the current command, "" if none
}

// add records the value span [a, b) when it holds a value worth hiding.
func (sc *scanner) add(a, b int) {
	if a >= b {
		return
	}
	v := sc.s[a:b]
	if v == Hidden || isTemplate(v) {
		return
	}
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no", "null", "none", "nil":
		return
	}
	sc.spans = append(sc.spans, span{a, b})
}

// word returns the next word of s at or after i: [a, b), and whether a
// newline came before it.
func (sc *scanner) word(i int) (a, b int, nl bool) {
	s := sc.s
	for i < len(s) && isSpace(s[i]) {
		if s[i] == '\n' {
			nl = true
		}
		i++
	}
	a = i
	for i < len(s) && !isSpace(s[i]) {
		i++
	}
	return a, i, nl
}

// value returns the span of a value that starts at i: the inside of a
// quoted value ('a b', "a b", up to the closing quote on the same line),
// else up to a space or a byte of stop, without trailing closing
// punctuation. end is where the scan goes on.
func (sc *scanner) value(i int, stop *byteSet) (a, b, end int) {
	s := sc.s
	if i >= len(s) {
		return i, i, i
	}
	if q := s[i]; isQuote(q) {
		for j := i + 1; j < len(s) && j < i+maxQuoted && s[j] != '\n'; j++ {
			switch s[j] {
			case '\\':
				j++
			case q:
				return i + 1, j, j + 1
			}
		}
		i++ // no closing quote: the value is the rest of the word
	}
	j := i
	for j < len(s) && !isSpace(s[j]) && !stop[s[j]] {
		j++
	}
	end = j
	for j > i && valueClose[s[j-1]] {
		if s[j-1] == '}' && strings.IndexByte(s[i:j], '{') >= 0 {
			break // ${X}
		}
		j--
	}
	return i, j, end
}

// bare returns the word [a, b) without the quotes and brackets around it.
func (sc *scanner) bare(a, b int) (int, int) {
	s := sc.s
	for a < b && bareOpen[s[a]] {
		a++
	}
	for b > a && bareClose[s[b-1]] {
		b--
	}
	return a, b
}

func (sc *scanner) run() {
	s := sc.s
	i := 0
	for i < len(s) {
		a, b, nl := sc.word(i)
		if a >= len(s) {
			return
		}
		if nl {
			sc.tool = ""
		}
		i = max(b, sc.wordRules(a, b))
		switch w := s[a:b]; {
		case w == "|" || w == "&&" || w == "||" || w == ";" || s[b-1] == ';':
			sc.tool = ""
		}
	}
}

// wordRules applies every rule to the word [a, b) and returns where the
// scan goes on (b, or the end of a quoted value that the word opened).
func (sc *scanner) wordRules(a, b int) int {
	s := sc.s
	next := b
	// One pass over the word: where its first = and : are.
	eq, colon := -1, -1
	for i := a; i < b; i++ {
		switch s[i] {
		case '=':
			if eq < 0 {
				eq = i
			}
		case ':':
			if colon < 0 {
				colon = i
			}
		}
	}
	ba, bb := sc.bare(a, b)
	if ba >= bb {
		return next
	}
	w := s[ba:bb]

	// A client that gives -p, -a, -u their meaning.
	if eq < 0 && colon < 0 && w[0] != '-' {
		if t := knownClient(w); t != "" {
			sc.tool = t
			return next
		}
	}
	if eq >= 0 {
		next = max(next, sc.keyValues(a, b))
	}
	if eq >= 0 && strings.HasPrefix(w, "--header=") {
		// --header="Token: x": the header starts after the =.
		ha := ba + len("--header=")
		if ha < bb && isQuote(s[ha]) {
			ha++
		}
		if c := strings.IndexByte(s[ha:bb], ':'); c > 0 {
			return max(next, sc.header(ha, ha, ha+c, b, true))
		}
	} else if colon >= 0 {
		// Each Name: of the word ({"user":"u","password":"p"} has two).
		for c := colon; c < b; c++ {
			if s[c] != ':' {
				continue
			}
			if strings.HasPrefix(s[c:], "://") {
				c += 2
				continue
			}
			k := c
			if k > a && s[k-1] == '"' {
				k--
			}
			for k > a && isHeaderByte(s[k-1]) {
				k--
			}
			if k >= c {
				continue
			}
			end := sc.header(a, k, c, b, false)
			if end > b {
				next = max(next, end)
				break
			}
			c = max(c, end-1)
		}
	}
	if w[0] == '-' {
		next = max(next, sc.flag(a, ba, b, w))
	}
	if len(w) == 6 && strings.EqualFold(w, "bearer") || len(w) == 5 && strings.EqualFold(w, "basic") {
		if na, nb, nl := sc.word(b); !nl && na < nb {
			va, vb, _ := sc.value(na, &noStop)
			if looksLikeCredential(s[va:vb]) {
				sc.add(va, vb)
			}
		}
	}
	return next
}

// keyValues masks the values of the secret keys of key=value pairs in the
// word [a, b).
func (sc *scanner) keyValues(a, b int) int {
	s := sc.s
	next := b
	for i := a; i < b && i < len(s); i++ {
		if s[i] != '=' {
			continue
		}
		k := i
		for k > a && isKeyByte(s[k-1]) {
			k--
		}
		if k == i {
			continue
		}
		if k > a && !keyStart[s[k-1]] {
			continue
		}
		if !secretKey(strings.TrimLeft(s[k:i], "-")) {
			continue
		}
		va, vb, end := sc.value(i+1, &kvStop)
		sc.add(va, vb)
		if end > b {
			next = end
			break
		}
		i = end - 1
	}
	return next
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// header masks the value of "Name: value" whose name [na, colon) says it
// holds credentials: an Authorization or Cookie header, a secret-named
// header (X-Api-Key), a secret-named JSON key ("password": "x") or
// Name:value without a space (Go's %+v: {Password:x}). The word [a, b)
// holds the name; after -H or --header (flagged) any secret name counts.
// It returns where the value ends (na when nothing was masked).
func (sc *scanner) header(a, na, colon, b int, flagged bool) int {
	s := sc.s
	name := strings.TrimRight(s[na:colon], `"'`)
	if name == "" || !isHeaderName(name) {
		return na
	}
	jsonKey := len(name) < colon-na && na > 0 && s[na-1] == '"'
	attached := colon+1 < b && !isSpace(s[colon+1])
	auth := strings.EqualFold(name, "authorization") || strings.EqualFold(name, "proxy-authorization")
	switch {
	case auth:
	case strings.EqualFold(name, "cookie") || strings.EqualFold(name, "set-cookie"):
	case secretKey(name) && (jsonKey || attached || strings.IndexByte(name, '-') >= 0 || flagged || sc.afterHeaderFlag(a)):
	default:
		return na
	}
	// Quoted ("Authorization: Bearer x", -H 'X-Api-Key: k'): the value
	// runs to the closing quote. A quoted name ("x-api-key": "k") is
	// not a quoted header.
	var q byte
	if na > 0 && isQuote(s[na-1]) && len(name) == colon-na {
		q = s[na-1]
	}
	v := colon + 1
	for v < len(s) && (s[v] == ' ' || s[v] == '\t') {
		v++
	}
	if q != 0 {
		end := v
		for end < len(s) && end < v+maxQuoted && s[end] != q && s[end] != '\n' {
			end++
		}
		if auth {
			v = skipScheme(s, v, end)
		}
		sc.add(v, end)
		return end
	}
	if v >= len(s) || isSpace(s[v]) {
		return na // nothing after the colon on this line
	}
	stop := &noStop
	if jsonKey || attached {
		stop = &jsonStop
	}
	va, vb, end := sc.value(v, stop)
	if auth && isScheme(s[va:vb]) {
		na, nb, nl := sc.word(end)
		if nl || na >= nb {
			return end
		}
		va, vb, end = sc.value(na, &noStop)
	}
	sc.add(va, vb)
	return end
}

func isHeaderByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// afterHeaderFlag reports whether the word at a follows -H, --header or
// --header= (curl, wget).
func (sc *scanner) afterHeaderFlag(a int) bool {
	s := sc.s[:a]
	s = strings.TrimRight(s, `"'`)
	if strings.HasSuffix(s, "--header=") {
		return true
	}
	s = strings.TrimRight(s, " \t")
	return strings.HasSuffix(s, " -H") || strings.HasSuffix(s, " --header") || s == "-H" || s == "--header"
}

func isHeaderName(n string) bool {
	for i := 0; i < len(n); i++ {
		if !isHeaderByte(n[i]) {
			return false
		}
	}
	return true
}

// isScheme reports whether w is an HTTP authentication scheme (Bearer,
// Basic, Token, Digest...).
func isScheme(w string) bool {
	return equalAny(w, authSchemes)
}

var authSchemes = []string{"Bearer", "Basic", "Digest", "Token", "Negotiate", "NTLM", "Bot", "ApiKey", "Key",
	"HOBA", "Mutual", "OAuth", "DPoP", "GoogleLogin", "SSWS", "Splunk", "AWS4-HMAC-SHA256", "SCRAM-SHA-256", "SCRAM-SHA-1", "vapid"}

// skipScheme returns where the credentials start in the header value
// [v, end): after its scheme word when it has one.
func skipScheme(s string, v, end int) int {
	j := v
	for j < end && !isSpace(s[j]) {
		j++
	}
	if j < end && isScheme(s[v:j]) {
		for j < end && isSpace(s[j]) {
			j++
		}
		return j
	}
	return v
}

// looksLikeCredential reports whether a word after Bearer or Basic in prose
// is a credential rather than an English word: 8 characters or more of a
// token (letters, digits, -._~+/, = padding at the end) with a digit, a
// symbol or a capital letter after the first character.
func looksLikeCredential(w string) bool {
	if len(w) < 8 {
		return false
	}
	t := strings.TrimRight(w, "=")
	strong := len(t) < len(w)
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z':
		case c >= 'A' && c <= 'Z':
			strong = strong || i > 0
		case c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/':
			strong = true
		default:
			return false
		}
	}
	return strong
}

// flag masks the value of the flag word w (the word [a, b) without its
// quotes starts at wa): --password value, and the client-specific -p, -a
// and -u.
func (sc *scanner) flag(a, wa, b int, w string) int {
	s := sc.s
	nextValue := func() int {
		na, nb, nl := sc.word(b)
		if nl || na >= nb {
			return b
		}
		va, vb, end := sc.value(na, &noStop)
		sc.add(va, vb)
		return max(b, end)
	}
	if (sc.tool == "curl" || sc.tool == "wget") && (w == "-u" || w == "--user" || strings.HasPrefix(w, "--user=")) {
		var va, vb, end int
		if strings.HasPrefix(w, "--user=") {
			va, vb, end = sc.value(wa+len("--user="), &noStop)
		} else {
			na, nb, nl := sc.word(b)
			if nl || na >= nb {
				return b
			}
			va, vb, end = sc.value(na, &noStop)
		}
		if c := strings.IndexByte(s[va:vb], ':'); c >= 0 {
			sc.add(va+c+1, vb)
		}
		return max(b, end)
	}
	switch {
	case strings.HasPrefix(w, "--"):
		name := w[2:]
		if strings.IndexByte(name, '=') >= 0 || strings.HasPrefix(name, "no-") || !secretKey(name) {
			return b
		}
		if na, nb, nl := sc.word(b); nl || na >= nb || s[na] == '-' {
			return b
		}
		return nextValue()
	case sc.tool == "":
		return b
	case isMySQLClient(sc.tool) && len(w) > 2 && w[1] == 'p':
		va, vb, end := sc.value(wa+2, &noStop)
		sc.add(va, vb)
		return max(b, end)
	case isRedisCLI(sc.tool) && w == "-a", isMongoShell(sc.tool) && w == "-p":
		return nextValue()
	}
	return b
}

// knownClient returns the name of a client whose flags Text knows when the
// bare word w runs one, else "".
func knownClient(w string) string {
	if i := strings.LastIndexByte(w, '/'); i >= 0 {
		w = w[i+1:]
	}
	switch w {
	case "curl", "wget":
		return w
	}
	if isMySQLClient(w) || isRedisCLI(w) || isMongoShell(w) {
		return w
	}
	return ""
}

// describesWords are the last words of a key that names something about a
// secret rather than the secret: password_reset_url, token_type...
var describesWords = []string{
	"URL", "URI", "PATH", "FILE", "DIR", "HOST", "PORT", "USER", "USERNAME", "NAME", "ID", "TYPE",
	"LEN", "LENGTH", "MIN", "MAX", "TTL", "TIMEOUT", "EXPIRY", "EXPIRES", "EXPIRATION", "ENABLED",
	"REQUIRED", "MODE", "METHOD", "POLICY", "FORMAT", "SOURCE", "MECHANISM", "DB", "DATABASE", "SIZE",
	"COUNT", "ALGORITHM", "ALG", "HEADER", "PARAM", "PREFIX", "ENCODING",
}

var (
	secretParts  = []string{"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "APIKEY", "CREDENTIAL", "REQUIREPASS"}
	secretWords2 = []string{"KEY", "PASS", "PWD", "AUTH", "AUTHORIZATION", "PRIVATE"}
)

// secretKey reports whether a key of a key=value pair, a flag or a header
// names a secret: it contains PASSWORD, PASSWD, PASSPHRASE, SECRET, TOKEN,
// APIKEY, CREDENTIAL or REQUIREPASS, or one of its words (at _ - . and
// camelCase boundaries) is KEY, PASS, PWD, AUTH, AUTHORIZATION or PRIVATE
// (AccountKey), unless its last word describes something else
// (password_reset_url, token_type, authSource, access_key_id). It does not
// allocate: it runs on every key of every log line.
func secretKey(k string) bool {
	if !maybeSecretKey(k) {
		return false
	}
	found := false
	last := ""
	forKeyWords(k, func(w string) {
		last = w
		if !found && equalAny(w, secretWords2) {
			found = true
		}
	})
	if last == "" || equalAny(last, describesWords) {
		return false
	}
	if found {
		return true
	}
	for _, p := range secretParts {
		if containsFold(k, p) {
			return true
		}
	}
	return false
}

// maybeSecretKey is a quick filter for secretKey: whether k holds one of
// the pairs of letters that its secret words start with (pa, pw, pr, se,
// to, ke, au, ap, cr).
func maybeSecretKey(k string) bool {
	for i := 0; i+1 < len(k); i++ {
		c, d := k[i]|0x20, k[i+1]|0x20
		switch c {
		case 'p':
			if d == 'a' || d == 'w' || d == 'r' {
				return true
			}
		case 's':
			if d == 'e' {
				return true
			}
		case 't':
			if d == 'o' {
				return true
			}
		case 'k':
			if d == 'e' {
				return true
			}
		case 'a':
			if d == 'u' || d == 'p' {
				return true
			}
		case 'c':
			if d == 'r' {
				return true
			}
		}
	}
	return false
}

func equalAny(w string, list []string) bool {
	for _, x := range list {
		if len(x) == len(w) && strings.EqualFold(w, x) {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains the upper-case ASCII word up,
// ignoring case.
func containsFold(s, up string) bool {
	for i := 0; i+len(up) <= len(s); i++ {
		j := 0
		for ; j < len(up); j++ {
			c := s[i+j]
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			if c != up[j] {
				break
			}
		}
		if j == len(up) {
			return true
		}
	}
	return false
}

// forKeyWords calls f with each word of a key, split at _ - . and at
// camelCase boundaries.
func forKeyWords(k string, f func(string)) {
	start := 0
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '_' || c == '-' || c == '.':
			if i > start {
				f(k[start:i])
			}
			start = i + 1
		case c >= 'A' && c <= 'Z' && i > start && k[i-1] >= 'a' && k[i-1] <= 'z':
			f(k[start:i])
			start = i
		}
	}
	if len(k) > start {
		f(k[start:])
	}
}

// urlSpans adds the spans of the passwords of the URLs with user
// information in s ("postgres://app:s3cret@db/x").
func urlSpans(s string, sp []span) []span {
	off := 0
	for {
		i := strings.Index(s[off:], "://")
		if i < 0 {
			return sp
		}
		start := off + i + 3
		end := start
		for end < len(s) && !urlEnd[s[end]] {
			end++
		}
		auth := s[start:end]
		at := strings.LastIndexByte(auth, '@')
		colon := strings.IndexByte(auth, ':')
		if at > 0 && colon >= 0 && colon < at && colon+1 < at {
			sp = append(sp, span{start + colon + 1, start + at})
		}
		off = end
	}
}

// replaceSpans replaces the (possibly overlapping) spans of s by Hidden.
func replaceSpans(s string, sp []span) string {
	sort.Slice(sp, func(i, j int) bool { return sp[i].a < sp[j].a })
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for i := 0; i < len(sp); {
		a, e := sp[i].a, sp[i].b
		for i++; i < len(sp) && sp[i].a <= e; i++ {
			e = max(e, sp[i].b)
		}
		if a < last {
			a = last
		}
		b.WriteString(s[last:a])
		b.WriteString(Hidden)
		last = e
	}
	b.WriteString(s[last:])
	return b.String()
}
