package model

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// oneLine makes text from the compose file safe inside a // comment: text
// with line breaks or other control characters is quoted.
func oneLine(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return strconv.Quote(s)
		}
	}
	return s
}

// unescape shows compose text as the container sees it: "$$" is a literal
// "$" ("$${POSTGRES_USER}" is the shell's ${POSTGRES_USER}).
func unescape(s string) string { return strings.ReplaceAll(s, "$$", "$") }

// shellJoin shows a command (an argv) as one line, quoting the arguments
// that need it, with compose's "$$" unescaped and secrets masked (see
// maskSecrets).
func shellJoin(argv []string) string {
	argv = maskSecrets(argv)
	parts := make([]string, len(argv))
	for i, a := range argv {
		a = unescape(a)
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\;&|<>()*?[]#~=%") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}

// secretWord matches the names of flags and variables whose values are
// secrets: --requirepass, --password, -a (redis-cli), MYSQL_ROOT_PASSWORD...
var secretWord = regexp.MustCompile(`(?i)(pass|secret|token|auth|credential|private|apikey|api_key)`)

// Secrets in a shell script: "--password=x", "--password x", "-a x",
// "-px" (mysql), "DB_PASSWORD=x".
var (
	reSecretFlag   = regexp.MustCompile(`(?i)(--?[\w-]*(?:pass|secret|token|auth|credential)[\w-]*[= ]+|(?:^|\s)-a +)([^\s'"$][^\s'"]*|'[^']*'|"[^"$]*")`)
	reSecretAssign = regexp.MustCompile(`(?i)\b(\w*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY)\w*=)([^\s'"$][^\s'"]*|'[^']*'|"[^"$]*")`)
	reMySQLPass    = regexp.MustCompile(`(\s-p)([^\s'"$]\S*)`)
)

const mask = "***"

// maskSecrets returns argv with the values of secret-looking flags and
// variables replaced by ***, so that no message shows a password written
// in a compose file. Variables (${REDIS_PASSWORD}) are kept: they are
// templates, not values.
func maskSecrets(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		switch {
		case i > 0 && isSecretFlag(argv[i-1]) && !strings.HasPrefix(a, "$"):
			a = mask
		case strings.HasPrefix(a, "-") && strings.Contains(a, "=") && secretWord.MatchString(a[:strings.IndexByte(a, '=')]):
			if k, v, _ := strings.Cut(a, "="); !strings.HasPrefix(v, "$") {
				a = k + "=" + mask
			}
		case strings.ContainsAny(a, " \n;&|"):
			a = maskScript(a)
		}
		out[i] = a
	}
	return out
}

// isSecretFlag reports whether a flag takes a secret as its next argument.
func isSecretFlag(a string) bool {
	if a == "-a" {
		return true
	}
	return strings.HasPrefix(a, "-") && !strings.Contains(a, "=") && secretWord.MatchString(a)
}

// maskScript masks the secrets of a shell script.
func maskScript(s string) string {
	s = reSecretFlag.ReplaceAllString(s, "${1}"+mask)
	s = reSecretAssign.ReplaceAllString(s, "${1}"+mask)
	return reMySQLPass.ReplaceAllString(s, "${1}"+mask)
}
