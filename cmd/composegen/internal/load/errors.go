package load

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/compose-spec/compose-go/v2/tree"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
)

var (
	// "services.api.ports.1", "services[api].ports", "services.api Additional property foo"
	reServicePath = regexp.MustCompile(`services(?:\.|\[)([A-Za-z0-9_-]+)\]?((?:\.[A-Za-z0-9_]+|\.\[\])*)`)
	reLine        = regexp.MustCompile(`line (\d+)(?:, column (\d+))?`)
	reService     = regexp.MustCompile(`service "?([A-Za-z0-9_.-]+)"?`)
	reCycle       = regexp.MustCompile(`cycle detected: ([A-Za-z0-9_.-]+(?: -> [A-Za-z0-9_.-]+)+)`)
	reDupKey      = regexp.MustCompile(`line (\d+): mapping key "([^"]*)" already defined`)
	reConstruct   = regexp.MustCompile(`construct errors:;\s*line \d+: `)
	reUndefined   = regexp.MustCompile(`refers to undefined (network|volume|secret|config)`)
	reCircular    = regexp.MustCompile(`Circular reference:((?:;\s*(?:extends )?[A-Za-z0-9_.-]+ in [^;]+)+)`)
	reCircularOne = regexp.MustCompile(`(?:extends )?([A-Za-z0-9_.-]+) in `)
	reYAMLError   = regexp.MustCompile(`(^|[^.\w])yaml: `) // not "compose.yaml: "
	reAdditional  = regexp.MustCompile(`^(?:validating [^:]+: )?(\S*) ?additional properties? '([^']+)' not allowed`)
	reFalseSchema = regexp.MustCompile(`^(?:validating [^:]+: )?(?:(\S+)\.)?([^.\s]+) false schema`)
)

// wrapError turns a compose-go error into a diagnostic naming the file,
// line, service and field when they can be found, with a hint.
func (res *Result) wrapError(err error) diag.Diagnostic {
	var unset *UnsetError
	if errors.As(err, &unset) {
		return res.unsetError(err, unset)
	}
	var rng *RangeError
	if errors.As(err, &rng) {
		return res.rangeError(err, rng)
	}
	msg := err.Error()
	if d, ok := res.unknownAttribute(msg); ok {
		return d
	}
	d := diag.Diagnostic{Severity: diag.Error, Message: res.cleanMessage(msg)}
	res.locateFile(&d, msg)
	res.locateServiceField(&d, msg)
	if d.Service == "" {
		// compose-go did not say where: look for the offending value, the
		// last ": "-separated part of the message, in the files.
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			if path, pos, ok := res.Positions.findValue("services.", strings.TrimSpace(msg[i+2:])); ok {
				d.Service, d.Field = splitServicePath(path)
				res.setPos(&d, pos)
			}
		}
	}
	if d.Service != "" && d.Line == 0 {
		if pos, ok := res.Positions.Service(d.Service, d.Field); ok && (d.File == "" || d.File == res.display(pos.File)) {
			res.setPos(&d, pos)
		}
	}
	if m := reDupKey.FindStringSubmatch(msg); m != nil && d.Line == 0 {
		// The duplicate, not the first definition.
		d.Line, _ = strconv.Atoi(m[1])
		d.Field = m[2]
	}
	if d.Line == 0 && strings.Contains(msg, "yaml") {
		if all := reLine.FindAllStringSubmatch(msg, -1); len(all) > 0 {
			m := all[len(all)-1]
			d.Line, _ = strconv.Atoi(m[1])
			d.Column, _ = strconv.Atoi(m[2])
		}
	}
	if d.File == "" && len(res.Files) > 0 {
		d.File = res.display(res.Files[0])
	}
	d.Hint = hint(msg)
	if s := res.suggestField(d.Message); s != "" {
		d.Hint = s + " " + d.Hint
	}
	return d
}

func (res *Result) setPos(d *diag.Diagnostic, pos Pos) {
	d.File, d.Line, d.Column = res.display(pos.File), pos.Line, pos.Column
}

// locateFile sets the file: the first loaded file named in the message.
func (res *Result) locateFile(d *diag.Diagnostic, msg string) {
	for _, f := range append(res.Positions.Files(), res.Files...) {
		if strings.Contains(msg, f) {
			d.File = res.display(f)
			return
		}
	}
}

// locateServiceField sets the service and the field named by the message.
// Cycles are reported from the service whose name sorts first, whatever
// compose-go's (map) order, so that the same file always gives the same
// message.
func (res *Result) locateServiceField(d *diag.Diagnostic, msg string) {
	clean := res.cleanMessage(msg)
	if m := reServicePath.FindStringSubmatch(msg); m != nil {
		d.Service, d.Field = m[1], fieldOf(m[2])
		return
	}
	if m := reCycle.FindStringSubmatch(msg); m != nil {
		cycle := canonicalCycle(strings.Split(m[1], " -> "))
		d.Service, d.Field = cycle[0], "depends_on"
		d.Message = "dependency cycle: " + strings.Join(append(cycle, cycle[0]), " -> ")
		return
	}
	if m := reCircular.FindStringSubmatch(clean); m != nil {
		var names []string
		for _, n := range reCircularOne.FindAllStringSubmatch(m[1], -1) {
			names = append(names, n[1])
		}
		cycle := canonicalCycle(names)
		d.Service, d.Field = cycle[0], "extends"
		d.Message = "circular reference: " + strings.Join(append(cycle, cycle[0]), " extends ")
		return
	}
	if m := reService.FindStringSubmatch(msg); m != nil {
		d.Service = m[1]
		if strings.Contains(msg, "depends on undefined service") {
			d.Field = "depends_on"
		}
		if u := reUndefined.FindStringSubmatch(msg); u != nil {
			d.Field = u[1] + "s"
		}
	}
}

// canonicalCycle returns the members of a cycle ("a b c a" or "a b c"),
// starting at the smallest name.
func canonicalCycle(names []string) []string {
	if len(names) > 1 && names[0] == names[len(names)-1] {
		names = names[:len(names)-1]
	}
	if len(names) == 0 {
		return []string{""}
	}
	i := slices.Index(names, slices.Min(names))
	return append(slices.Clone(names[i:]), names[:i]...)
}

// fieldOf turns ".ports.1.target" into "ports[1].target".
func fieldOf(path string) string {
	var field strings.Builder
	for _, part := range strings.Split(strings.TrimPrefix(path, "."), ".") {
		if _, convErr := strconv.Atoi(part); convErr == nil {
			field.WriteString("[" + part + "]")
		} else if part != "" && part != "[]" {
			if field.Len() > 0 {
				field.WriteString(".")
			}
			field.WriteString(part)
		}
	}
	return field.String()
}

// unsetError reports a field resolved at generation whose unset variable
// made it invalid.
func (res *Result) unsetError(err error, e *UnsetError) diag.Diagnostic {
	d := diag.Diagnostic{Severity: diag.Error}
	res.locateServiceField(&d, err.Error())
	res.locateValue(&d, e.Template)
	what := "a valid value"
	if e.Err != nil {
		what = e.Err.Error()
	}
	d.Message = fmt.Sprintf("%s %s not set, and this field is resolved when generating (compose parses it while loading): %s gives %s (%s)",
		strings.Join(quoteVars(e.Vars), " and "), plural(len(e.Vars), "is", "are"), Shown(e.Template), Shown(e.Resolved), what)
	d.Hint = fmt.Sprintf("set %s in .env or in go generate's environment, or give a default: ${%s:-value}", strings.Join(e.Vars, " and "), e.Vars[0])
	return d
}

// rangeError reports a port range too large to publish.
func (res *Result) rangeError(err error, e *RangeError) diag.Diagnostic {
	d := diag.Diagnostic{Severity: diag.Error, Message: e.Error()}
	res.locateServiceField(&d, err.Error())
	res.locateValue(&d, e.Value)
	d.Hint = "declare only the ports the tests use; to keep the file as it is for docker compose, override the entry for the tests in a second file (ports: !override [...]) given with another -f"
	return d
}

// locateValue finds the position of the value written as tmpl under the
// diagnostic's service and field (the field of a cast error is known only up
// to its list: "ports").
func (res *Result) locateValue(d *diag.Diagnostic, tmpl string) {
	prefix := "services."
	if d.Service != "" {
		prefix += d.Service
		if f, _, _ := strings.Cut(d.Field, "["); f != "" {
			prefix += "." + f
		}
	}
	if path, pos, ok := res.Positions.findValue(prefix, tmpl); ok {
		d.Service, d.Field = splitServicePath(path)
		res.setPos(d, pos)
		return
	}
	if pos, ok := res.Positions.Service(d.Service, d.Field); ok {
		res.setPos(d, pos)
	}
}

func (res *Result) cleanMessage(msg string) string {
	for _, f := range append(res.Positions.Files(), res.Files...) {
		msg = strings.ReplaceAll(msg, f, res.display(f))
	}
	if res.ProjectDir != "" {
		msg = strings.ReplaceAll(msg, res.ProjectDir+string(filepath.Separator), "")
	}
	if res.Vars != nil {
		msg = res.Vars.Template(msg)
	}
	msg = strings.ReplaceAll(msg, "decoding failed due to the following error(s):\n\n", "")
	msg = strings.ReplaceAll(msg, "\n", "; ")
	return reConstruct.ReplaceAllString(msg, "")
}

// unknownAttribute reports an attribute that the compose schema does not
// allow where it is written, located at its key, with the nearest valid
// attribute when one is close.
func (res *Result) unknownAttribute(msg string) (diag.Diagnostic, bool) {
	m := reAdditional.FindStringSubmatch(res.cleanMessage(msg))
	if m == nil {
		m = reFalseSchema.FindStringSubmatch(res.cleanMessage(msg))
	}
	if m == nil || strings.Contains(m[2], ",") {
		return diag.Diagnostic{}, false
	}
	at, key := m[1], m[2]
	path := key
	if at != "" {
		path = at + "." + key
	}
	d := diag.Diagnostic{Severity: diag.Error, Message: "unknown attribute", Field: path,
		Hint: "see https://docs.docker.com/reference/compose-file/"}
	if s := diag.DidYouMean(key, Attributes(at)); s != "" {
		d.Hint = s + " " + d.Hint
	}
	d.Service, d.Field = splitServicePath(path)
	if pos, ok := res.Positions.Find(path); ok {
		res.setPos(&d, pos)
	} else if len(res.Files) > 0 {
		d.File = res.display(res.Files[0])
	}
	return d, true
}

// suggestField returns "did you mean ...?" for an unknown attribute that is
// close to a known one at the same place.
func (res *Result) suggestField(msg string) string {
	m := reAdditional.FindStringSubmatch(msg)
	if m == nil {
		m = reFalseSchema.FindStringSubmatch(msg)
	}
	if m == nil {
		return ""
	}
	return diag.DidYouMean(m[2], Attributes(m[1]))
}

// Attributes returns the attributes the compose schema allows at an
// instance path ("services.web", "services.web.healthcheck", "" for the top
// level), sorted.
func Attributes(at string) []string {
	var parts []string
	if at != "" {
		parts = strings.Split(at, ".")
	}
	var out []string
	for _, p := range schema.AttributePaths() {
		pp := p.Parts()
		if len(pp) != len(parts)+1 {
			continue
		}
		if tree.NewPath(parts...).Matches(tree.NewPath(pp[:len(pp)-1]...)) {
			out = append(out, pp[len(pp)-1])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func hint(msg string) string {
	switch {
	case strings.Contains(msg, "compose-go crashed"):
		return "a malformed file: `docker compose config` fails on it too; look for misplaced tags such as !reset"
	case strings.Contains(msg, "excessive aliasing") || strings.Contains(msg, "node visit limit"):
		return "docker compose refuses the file too; use fewer nested aliases"
	case strings.Contains(msg, "Additional property") || strings.Contains(msg, "additional propert") || strings.Contains(msg, "false schema"):
		return "remove or fix the attribute; see https://docs.docker.com/reference/compose-file/"
	case strings.Contains(msg, "invalid interpolation format"):
		return "escape a literal $ as $$"
	case strings.Contains(msg, "required variable") || strings.Contains(msg, "is missing a value"):
		return "this field is resolved when generating: set the variable in .env or in go generate's environment, or give it a default with ${VAR:-default}"
	case strings.Contains(msg, "depends on undefined service") || strings.Contains(msg, "undefined service"):
		return "declare the service or remove the reference"
	case strings.Contains(msg, "undefined volume") || strings.Contains(msg, "undefined network") || strings.Contains(msg, "undefined secret") || strings.Contains(msg, "undefined config"):
		return "declare it at the top level of the compose file"
	case strings.Contains(msg, " must be a "):
		return "fix the value's type"
	case reYAMLError.MatchString(msg) || strings.Contains(msg, "failed to parse"):
		return "fix the YAML syntax"
	case strings.Contains(msg, "Circular reference") || strings.Contains(msg, "cycle"):
		return "break the cycle"
	case strings.Contains(msg, "failed to cast") || strings.Contains(msg, "invalid"):
		return "fix the value; check `docker compose config` for the same error"
	}
	return "check `docker compose config` for the same error"
}
