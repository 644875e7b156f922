// Package mask keeps secrets out of composegen's messages, by name and by
// shape. A Masker learns the secret values of a stack (the values of
// variables whose names say they are secrets, the values of password
// arguments, and the secrets that other values show by their shape, such
// as the password of a connection string in a variable of any name) and
// replaces each occurrence in any text with "****". Text hides what a text
// shows by its shape alone (see Text), and every Masker.String does it
// too. Args masks password arguments in a command line for display.
package mask

import (
	"path"
	"sort"
	"strings"
	"sync"
)

// Hidden replaces a secret.
const Hidden = "****"

// secretWords are the name parts that make a variable a secret.
var secretWords = []string{"PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "CREDENTIAL", "PRIVATE", "APIKEY", "AUTH"}

// SecretName reports whether an environment variable's name says that its
// value is a secret: it contains PASSWORD, PASSWD, PASSPHRASE, SECRET,
// TOKEN, CREDENTIAL, PRIVATE, APIKEY or AUTH, or one of its _-separated
// words is KEY or PASS (ACCESS_KEY, DFLY_requirepass...). A NAME_FILE
// variable names a file, not a secret.
func SecretName(name string) bool {
	n := strings.ToUpper(name)
	if strings.HasSuffix(n, "_FILE") {
		return false
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	for _, w := range strings.FieldsFunc(n, func(r rune) bool { return r == '_' || r == '-' || r == '.' }) {
		switch w {
		case "KEY", "PASS", "PWD", "REQUIREPASS":
			return true
		}
	}
	return false
}

// worthMasking reports whether a value is a secret worth replacing: not
// empty, not a word that configures rather than authenticates.
func worthMasking(v string) bool {
	if len(v) < 3 || isTemplate(v) {
		return false
	}
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no", "null", "none", "nil":
		return false
	}
	return true
}

// isTemplate reports whether v is a bare variable reference ($X, ${X},
// ${X:-default}), which shows no secret.
func isTemplate(v string) bool {
	if strings.HasPrefix(v, "${") {
		return strings.HasSuffix(v, "}") && strings.Count(v, "}") == 1
	}
	if !strings.HasPrefix(v, "$") {
		return false
	}
	for _, r := range v[1:] {
		if r != '_' && (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// Masker replaces the secrets it learned. The zero value is ready; it is
// safe for concurrent use.
type Masker struct {
	mu      sync.RWMutex
	secrets []string // longest first
	seen    map[string]bool
}

// Add learns secret values.
func (m *Masker) Add(values ...string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for _, v := range values {
		if !worthMasking(v) || m.seen[v] {
			continue
		}
		if m.seen == nil {
			m.seen = map[string]bool{}
		}
		m.seen[v] = true
		m.secrets = append(m.secrets, v)
		changed = true
	}
	if changed {
		sort.SliceStable(m.secrets, func(i, j int) bool { return len(m.secrets[i]) > len(m.secrets[j]) })
	}
}

// AddVar learns value when name says it is a secret, and otherwise the
// secrets the value shows by its shape (MY_CONN=host=db password=x learns
// x).
func (m *Masker) AddVar(name, value string) {
	if SecretName(name) {
		m.Add(value)
		return
	}
	m.Add(Secrets(value)...)
}

// AddEnv learns the values of env's secret variables.
func (m *Masker) AddEnv(env map[string]string) {
	for k, v := range env {
		m.AddVar(k, v)
	}
}

// AddArgs learns the password arguments of a command line (see Args) and
// the secrets its arguments show by their shape (see Text).
func (m *Masker) AddArgs(args []string) {
	m.Add(secretArgs(args)...)
	for _, a := range args {
		m.Add(Secrets(a)...)
	}
}

// String returns s with every learned secret replaced by Hidden, and every
// secret that s shows by its shape (see Text).
func (m *Masker) String(s string) string {
	if m != nil {
		m.mu.RLock()
		for _, v := range m.secrets {
			if strings.Contains(s, v) {
				s = strings.ReplaceAll(s, v, Hidden)
			}
		}
		m.mu.RUnlock()
	}
	return Text(s)
}

// Args returns a copy of a command line with its password arguments
// replaced by Hidden: --password X, --password=X, --pass, --requirepass,
// -a X of redis-cli, -pX of the MySQL clients, -p X of the MongoDB shells,
// -u user:password of curl, --user=user:password, the values of secret
// headers given with -H or --header (Authorization, X-Api-Key...),
// NAME=value assignments of secret variables, and whatever Text hides. A
// shell command string (sh -c "...") is masked word by word.
func Args(args []string) []string {
	var secrets []string
	for _, v := range secretArgs(args) {
		if worthMasking(v) {
			secrets = append(secrets, v)
		}
	}
	out := make([]string, len(args))
	for i, a := range args {
		for _, s := range secrets {
			a = strings.ReplaceAll(a, s, Hidden)
		}
		out[i] = Text(a)
	}
	return out
}

// secretArgs returns the values of the password arguments of args, also
// inside arguments that hold a whole shell command.
func secretArgs(args []string) []string {
	words := make([]string, 0, len(args))
	var out []string
	for _, a := range args {
		if strings.ContainsAny(a, " \t\n") {
			out = append(out, scanArgs(shellWords(a))...)
			words = append(words, "")
			continue
		}
		words = append(words, a)
	}
	return append(out, scanArgs(words)...)
}

// shellWords splits a shell command line into words, honouring single and
// double quotes and backslashes (no expansion).
func shellWords(s string) []string {
	var out []string
	var w strings.Builder
	inWord := false
	var quote rune
	esc := false
	for _, r := range s {
		switch {
		case esc:
			w.WriteRune(r)
			esc = false
		case r == '\\' && quote != '\'':
			esc, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				w.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				out = append(out, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, w.String())
	}
	return out
}

// scanArgs finds password arguments in one word list.
func scanArgs(ws []string) []string {
	var out []string
	tool := ""
	for i, w := range ws {
		next := ""
		if i+1 < len(ws) {
			next = ws[i+1]
		}
		if k, v, ok := strings.Cut(w, "="); ok && !strings.HasPrefix(k, "-") && SecretName(k) {
			out = append(out, v)
			continue
		}
		if !strings.HasPrefix(w, "-") {
			switch w {
			case ";", "&&", "||", "|":
				tool = ""
			default:
				if tool == "" {
					tool = path.Base(w)
				}
			}
			continue
		}
		flag, val, hasVal := strings.Cut(w, "=")
		switch flag {
		case "--password", "--pass", "--requirepass", "--passwd", "--auth", "--token", "--secret":
			if hasVal {
				out = append(out, val)
			} else {
				out = append(out, next)
			}
			continue
		case "-H", "--header":
			v := next
			if hasVal {
				v = val
			}
			if name, value, ok := strings.Cut(v, ":"); ok && (secretKey(strings.TrimSpace(name)) ||
				strings.EqualFold(strings.TrimSpace(name), "cookie")) {
				value = strings.TrimSpace(value)
				if strings.EqualFold(strings.TrimSpace(name), "authorization") || strings.EqualFold(strings.TrimSpace(name), "proxy-authorization") {
					if sch, cred, ok := strings.Cut(value, " "); ok && isScheme(sch) {
						value = strings.TrimSpace(cred)
					}
				}
				out = append(out, value)
			}
			continue
		case "-u", "--user":
			v := next
			if hasVal {
				v = val
			}
			if _, p, ok := strings.Cut(v, ":"); ok {
				out = append(out, p)
			}
			continue
		}
		switch {
		case w == "-a" && isRedisCLI(tool):
			out = append(out, next)
		case strings.HasPrefix(w, "-p") && len(w) > 2 && isMySQLClient(tool):
			out = append(out, w[2:])
		case w == "-p" && isMongoShell(tool):
			out = append(out, next)
		}
	}
	return out
}

func isRedisCLI(tool string) bool {
	switch tool {
	case "redis-cli", "valkey-cli", "keydb-cli":
		return true
	}
	return false
}

// isMySQLClient reports whether tool is a MySQL or MariaDB client, whose
// -pSECRET is a password (the server and other tools are not).
func isMySQLClient(tool string) bool {
	switch tool {
	case "mysql", "mysqladmin", "mysqldump", "mysqlshow", "mysqlcheck", "mysqlimport", "mysqlslap", "mysqlpump", "mysql_upgrade",
		"mariadb", "mariadb-admin", "mariadb-dump", "mariadb-show", "mariadb-check", "mariadb-import", "mariadb-slap", "mariadb-upgrade":
		return true
	}
	return false
}

func isMongoShell(tool string) bool { return tool == "mongosh" || tool == "mongo" }
