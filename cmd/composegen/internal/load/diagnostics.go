package load

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/tree"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
)

// structuralDiagnostics reports every structural field written with a
// variable: its value is fixed in the generated code.
func (res *Result) structuralDiagnostics() diag.List {
	def := loader.ToOptions(&types.ConfigDetails{}, nil).Interpolate.TypeCastMapping
	patterns := slices.Clone(structuralPaths)
	for p := range def {
		patterns = append(patterns, p)
	}
	var out diag.List
	for _, f := range res.Positions.files {
		idx := res.Positions.index[f]
		keys := make([]string, 0, len(idx))
		for k := range idx {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			val := res.Positions.scalar(f, k)
			if !strings.Contains(strings.ReplaceAll(val, "$$", ""), "$") {
				continue
			}
			tp := treePath(k)
			if !slices.ContainsFunc(patterns, tp.Matches) {
				continue
			}
			svc, field := splitServicePath(k)
			d := diag.Diagnostic{
				Severity: diag.Warning, File: res.display(f), Line: idx[k].Line, Column: idx[k].Column,
				Service: svc, Field: field,
				Message: fmt.Sprintf("%s is resolved at generation time", Shown(val)),
				Hint:    "regenerate when it changes",
				Detail:  "Compose parses this field when loading the file, so its value is fixed in the generated code instead of being resolved when the stack starts like the other fields.",
			}
			if publishedOnly(tp, val) {
				// Host ports are bound only with runtime.WithFixedPorts:
				// the value rarely matters.
				d.Severity = diag.Info
				d.Message = fmt.Sprintf("the host port of %s is resolved at generation time; it is bound only with runtime.WithFixedPorts (by default every port gets an ephemeral host port)", Shown(val))
				d.Hint, d.Detail = "", ""
			}
			out = append(out, d)
		}
	}
	return out
}

// publishedOnly reports whether the variables of a ports entry are only in
// its published (host) part: "${PORT:-8080}:80", or the published field of
// the long syntax.
func publishedOnly(p tree.Path, val string) bool {
	if p.Matches("services.*.ports.[].published") {
		return true
	}
	if !p.Matches("services.*.ports.[]") {
		return false
	}
	// host_ip:published:target[/proto]: the target is after the last colon
	// outside ${...}.
	depth, last := 0, -1
	for i := 0; i < len(val); i++ {
		switch {
		case val[i] == '$' && i+1 < len(val) && val[i+1] == '{':
			depth++
			i++
		case val[i] == '}' && depth > 0:
			depth--
		case val[i] == ':' && depth == 0:
			last = i
		}
	}
	return last >= 0 && !strings.Contains(val[last:], "$")
}

// notAt returns the diagnostics of l that are not at the place of one of
// others: a field resolved at generation with an unset variable gets the
// diagnostic about the variable, which says more, not both.
func notAt(l, others diag.List) diag.List {
	type place struct {
		file         string
		line, column int
	}
	taken := map[place]bool{}
	for _, d := range others {
		if d.Line > 0 {
			taken[place{d.File, d.Line, d.Column}] = true
		}
	}
	var out diag.List
	for _, d := range l {
		if !taken[place{d.File, d.Line, d.Column}] {
			out = append(out, d)
		}
	}
	return out
}

// unsetDiagnostics warns about fields resolved at generation that use
// unset variables and are still valid (blank, as docker compose does).
func (res *Result) unsetDiagnostics() diag.List {
	var out diag.List
	for _, u := range res.Vars.unset {
		d := diag.Diagnostic{
			Severity: diag.Warning,
			Message:  fmt.Sprintf("%s %s not set: blank", strings.Join(quoteVars(u.Vars), " and "), plural(len(u.Vars), "is", "are")),
			Hint:     fmt.Sprintf("set it in .env or give a default: ${%s:-value}", u.Vars[0]),
			Detail:   fmt.Sprintf("%s is resolved when generating (compose parses this field when loading), with a blank string in its place, as docker compose does; set %s in .env or in go generate's environment, or give a default: ${%s:-value}.", Shown(u.Template), strings.Join(u.Vars, " and "), u.Vars[0]),
		}
		if len(u.Vars) > 1 {
			d.Hint = fmt.Sprintf("set them in .env or give defaults: ${%s:-value}", u.Vars[0])
		}
		if path, pos, ok := res.Positions.findValue("", u.Template); ok {
			d.Service, d.Field = splitServicePath(path)
			res.setPos(&d, pos)
			if publishedOnly(treePath(path), u.Template) {
				// A blank host port is an ephemeral one, as every
				// port gets without runtime.WithFixedPorts.
				d.Severity = diag.Info
			}
		}
		out = append(out, d)
	}
	return out
}

// Shown quotes compose text for a message as the container sees it: "$$"
// (compose's escaped "$") is shown as "$", and nothing else is escaped
// unless it is not printable.
func Shown(s string) string {
	s = strings.ReplaceAll(s, "$$", "$")
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return strconv.Quote(s)
		}
	}
	return `"` + s + `"`
}

// treePath converts "services.api.ports[1]" into compose-go's
// "services.api.ports.[]".
func treePath(k string) tree.Path {
	var parts []string
	for _, seg := range strings.Split(k, ".") {
		for {
			i := strings.IndexByte(seg, '[')
			if i < 0 {
				parts = append(parts, seg)
				break
			}
			if i > 0 {
				parts = append(parts, seg[:i])
			}
			parts = append(parts, tree.PathMatchList)
			j := strings.IndexByte(seg, ']')
			if j < 0 {
				break
			}
			seg = seg[j+1:]
			if seg == "" {
				break
			}
		}
	}
	return tree.NewPath(parts...)
}

func splitServicePath(k string) (service, field string) {
	rest, ok := strings.CutPrefix(k, "services.")
	if !ok {
		return "", k
	}
	i := strings.IndexAny(rest, ".[")
	if i < 0 {
		return rest, ""
	}
	return rest[:i], strings.TrimPrefix(rest[i:], ".")
}
