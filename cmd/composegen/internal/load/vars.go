package load

import (
	"strconv"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/template"
)

// Variable expressions are replaced, while compose-go loads the project, by
// tokens made of private-use runes that no compose file contains: tokOpen,
// "v" and the decimal index of the expression in the table, tokClose. They
// survive every transformation compose-go applies to plain strings (they
// contain no '$', ':', '=', '/', space or quote) and are turned back into the
// original expression text by Vars.Template. The "v" and the digits make
// every token match the patterns of the compose schema that are not
// anchored, such as container_name's "[a-zA-Z0-9][a-zA-Z0-9_.-]+"; fields
// constrained to a fixed set of values are handled by casts (see casts.go).
const (
	tokOpen  = '\uE000'
	tokClose = '\uE001'
)

type varEntry struct {
	expr   string           // "${DB_PASSWORD:-secret}" or "$HOME"
	lookup template.Mapping // the mapping compose-go passed (include env files), may be nil
}

// Vars is the table of variable expressions found while loading. Strings of
// the loaded project hold tokens in place of the expressions; Template turns
// them back into compose template text and Resolve into real values.
type Vars struct {
	mu      sync.Mutex
	entries []varEntry
	// real resolves variables from the generating process's environment and
	// the project's env files; used only for fields that compose-go parses
	// structurally (ports, durations, sizes...).
	real template.Mapping
	// encoded are the tokenized values of constrained fields loaded as
	// placeholders (see encodedCast).
	encoded []string
	// unset records the values of fields resolved at generation that use
	// unset variables (blank, as in docker compose).
	unset []UnsetUse
}

// UnsetUse is a value of a field resolved at generation that uses variables
// that are not set.
type UnsetUse struct {
	Template string
	Vars     []string
}

func (v *Vars) encode(s string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.encoded = append(v.encoded, s)
	return len(v.encoded) - 1
}

func (v *Vars) decode(i int) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if i < 0 || i >= len(v.encoded) {
		return ""
	}
	return v.encoded[i]
}

func (v *Vars) noteUnset(tmpl string, vars []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.unset = append(v.unset, UnsetUse{Template: tmpl, Vars: vars})
}

func newVars(real template.Mapping) *Vars { return &Vars{real: real} }

func (v *Vars) add(expr string, lookup template.Mapping) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.entries = append(v.entries, varEntry{expr: expr, lookup: lookup})
	return string(tokOpen) + "v" + strconv.Itoa(len(v.entries)-1) + string(tokClose)
}

func (v *Vars) entry(i int) (varEntry, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if i < 0 || i >= len(v.entries) {
		return varEntry{}, false
	}
	return v.entries[i], true
}

var alwaysSet template.Mapping = func(string) (string, bool) { return "x", true }

// substitute is the interpolation.Options.Substitute function: it replaces
// every variable expression of s by a token and keeps "$$" as written. It
// reports the same syntax errors as compose-go's template package.
func (v *Vars) substitute(s string, lookup template.Mapping) (string, error) {
	if !strings.Contains(s, "$") && !strings.HasPrefix(s, "~") {
		return s, nil
	}
	var b strings.Builder
	i := 0
	// A leading "~" is expanded by compose-go to the generating user's home
	// directory in paths; keep it as a template so that no machine-specific
	// path ends up in the output.
	if strings.HasPrefix(s, "~/") || s == "~" {
		b.WriteString(v.add("~", nil))
		i = 1
	}
	for i < len(s) {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		n := s[i+1]
		switch {
		case n == '$':
			b.WriteString("$$")
			i += 2
		case n == '{':
			end := closingBrace(s[i:])
			if end < 0 {
				return s, &template.InvalidTemplateError{Template: s}
			}
			expr := s[i : i+end+1]
			if _, err := template.SubstituteWithOptions(expr, alwaysSet, template.WithoutLogging); err != nil {
				return s, err
			}
			b.WriteString(v.add(expr, lookup))
			i += end + 1
		case n == '_' || n >= 'a' && n <= 'z' || n >= 'A' && n <= 'Z':
			j := i + 2
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			b.WriteString(v.add(s[i:j], lookup))
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}

// closingBrace returns the index in s (which starts with "${") of the brace
// closing the expression, counting nested braces, or -1.
func closingBrace(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// HasTokens reports whether s holds variable tokens.
func HasTokens(s string) bool { return strings.ContainsRune(s, tokOpen) }

// replace rewrites every token of s with f(entry).
func (v *Vars) replace(s string, f func(varEntry) (string, error)) (string, error) {
	if !HasTokens(s) {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.IndexRune(s, tokOpen)
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		rest := s[i+len(string(tokOpen)):]
		j := strings.IndexRune(rest, tokClose)
		if j < 0 {
			b.WriteString(s[i:])
			return b.String(), nil
		}
		n, err := strconv.Atoi(strings.TrimPrefix(rest[:j], "v"))
		e, ok := v.entry(n)
		if err != nil || !ok {
			b.WriteString(s[i : i+len(string(tokOpen))+j+len(string(tokClose))])
		} else {
			r, err := f(e)
			if err != nil {
				return "", err
			}
			b.WriteString(r)
		}
		s = rest[j+len(string(tokClose)):]
	}
}

// Template turns the tokens of s back into the variable expressions written
// in the compose file: the result is compose template text ("$$" stays).
func (v *Vars) Template(s string) string {
	r, _ := v.replace(s, func(e varEntry) (string, error) { return e.expr, nil })
	return r
}

// Resolve returns s with its variables resolved from the generating
// environment (process environment, .env and --env-file) and "$$" unescaped,
// as docker compose would at load time. It reports whether s had variables.
func (v *Vars) Resolve(s string) (string, bool, error) {
	r, had, _, err := v.resolve(s)
	return r, had, err
}

// resolve is Resolve that also returns the variables that s uses without a
// default ("${PORT}", "$PORT") and that are unset: they resolve to "".
func (v *Vars) resolve(s string) (string, bool, []string, error) {
	var unset []string
	if !HasTokens(s) {
		return strings.ReplaceAll(s, "$$", "$"), false, nil, nil
	}
	out, err := v.resolveTokens(s, func(e varEntry) {
		if name, plain := plainVariable(e.expr); plain {
			if _, ok := v.lookup(e.lookup)(name); !ok {
				unset = append(unset, name)
			}
		}
	})
	return out, true, unset, err
}

// plainVariable returns the name of a "$NAME" or "${NAME}" expression, and
// whether expr is one (an expression with a default, an alternative or an
// error message is not).
func plainVariable(expr string) (string, bool) {
	if name, ok := strings.CutPrefix(expr, "${"); ok {
		name, ok = strings.CutSuffix(name, "}")
		return name, ok && isName(name)
	}
	name, ok := strings.CutPrefix(expr, "$")
	return name, ok && isName(name)
}

func isName(s string) bool {
	for i, c := range s {
		if c != '_' && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

func (v *Vars) resolveTokens(s string, seen func(varEntry)) (string, error) {
	var b strings.Builder
	for {
		i := strings.IndexRune(s, tokOpen)
		if i < 0 {
			b.WriteString(strings.ReplaceAll(s, "$$", "$"))
			return b.String(), nil
		}
		b.WriteString(strings.ReplaceAll(s[:i], "$$", "$"))
		rest := s[i:]
		j := strings.IndexRune(rest, tokClose)
		if j < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		tok := rest[:j+len(string(tokClose))]
		val, err := v.replace(tok, func(e varEntry) (string, error) {
			seen(e)
			if e.expr == "~" {
				if home, ok := v.lookup(nil)("HOME"); ok {
					return home, nil
				}
				return "~", nil
			}
			return template.SubstituteWithOptions(e.expr, v.lookup(e.lookup), template.WithoutLogging)
		})
		if err != nil {
			return "", err
		}
		b.WriteString(val)
		s = rest[len(tok):]
	}
}

func (v *Vars) lookup(extra template.Mapping) template.Mapping {
	return func(name string) (string, bool) {
		if extra != nil {
			if val, ok := extra(name); ok {
				return val, true
			}
		}
		if v.real != nil {
			return v.real(name)
		}
		return "", false
	}
}
