package emit

import (
	"go/token"
	"strconv"
	"strings"
	"unicode"
)

// nameSet hands out unique identifiers in one scope (the package's top-level
// names, a type's method set, a struct's fields). Resolution is
// deterministic: it depends only on the order of the requests.
type nameSet map[string]bool

// claim returns name if it is free, else the first free of the given
// alternatives, else name2, name3, ...; the returned name is then taken.
func (s nameSet) claim(name string, alternatives ...string) string {
	for _, n := range append([]string{name}, alternatives...) {
		if !s[n] {
			s[n] = true
			return n
		}
	}
	base := name
	if len(alternatives) > 0 {
		base = alternatives[len(alternatives)-1]
	}
	for i := 2; ; i++ {
		n := base + strconv.Itoa(i)
		if !s[n] {
			s[n] = true
			return n
		}
	}
}

// exported returns name when it is a valid exported Go identifier, else an
// exported identifier made from its letters and digits (fallback when name
// has none). The model's naming already produces valid names; this keeps the
// emitter from writing code that does not compile when it does not.
func exported(name, fallback string) string {
	if token.IsIdentifier(name) && token.IsExported(name) {
		return name
	}
	var b strings.Builder
	upper := true
	for _, r := range name {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if upper {
				r = unicode.ToUpper(r)
				upper = false
			}
			b.WriteRune(r)
		default:
			upper = true
		}
	}
	s := b.String()
	if s == "" {
		return fallback
	}
	if !unicode.IsLetter(rune(s[0])) {
		s = fallback + s
	}
	if !token.IsIdentifier(s) || !token.IsExported(s) {
		return fallback
	}
	return s
}

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
