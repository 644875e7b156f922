package model

import (
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
// that need it, with compose's "$$" unescaped.
func shellJoin(argv []string) string {
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
