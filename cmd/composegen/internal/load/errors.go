package load

import (
	"errors"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

var (
	// "services.api.ports.1", "services[api].ports", "services.api Additional property foo"
	reServicePath = regexp.MustCompile(`services(?:\.|\[)([A-Za-z0-9_-]+)\]?((?:\.[A-Za-z0-9_]+|\.\[\])*)`)
	reLine        = regexp.MustCompile(`line (\d+)(?:, column (\d+))?`)
	reService     = regexp.MustCompile(`service "?([A-Za-z0-9_.-]+)"?`)
	reCycle       = regexp.MustCompile(`cycle detected: ([A-Za-z0-9_.-]+) ->`)
	reDupKey      = regexp.MustCompile(`line (\d+): mapping key "([^"]*)" already defined`)
	reConstruct   = regexp.MustCompile(`construct errors:;\s*line \d+: `)
	reUndefined   = regexp.MustCompile(`refers to undefined (network|volume|secret|config)`)
	reCircular    = regexp.MustCompile(`Circular reference:;\s*([A-Za-z0-9_.-]+) in `)
	reYAMLError   = regexp.MustCompile(`(^|[^.\w])yaml: `) // not "compose.yaml: "
)

// wrapError turns a compose-go error into an *Error naming the file, line,
// service and field when they can be found, with a hint.
func wrapError(err error, res *Result, workDir string) error {
	msg := err.Error()
	e := &Error{Err: errors.New(cleanMessage(msg, res, workDir))}

	// File: the first loaded file named in the message, else the first file.
	for _, f := range append(res.Positions.Files(), res.Files...) {
		if strings.Contains(msg, f) {
			e.Pos.File = f
			break
		}
	}
	if m := reServicePath.FindStringSubmatch(msg); m != nil {
		e.Service = m[1]
		var field strings.Builder
		for _, part := range strings.Split(strings.TrimPrefix(m[2], "."), ".") {
			if _, convErr := strconv.Atoi(part); convErr == nil {
				field.WriteString("[" + part + "]")
			} else if part != "" && part != "[]" {
				if field.Len() > 0 {
					field.WriteString(".")
				}
				field.WriteString(part)
			}
		}
		e.Field = field.String()
	} else if m := reCycle.FindStringSubmatch(msg); m != nil {
		e.Service, e.Field = m[1], "depends_on"
	} else if m := reCircular.FindStringSubmatch(cleanMessage(msg, res, workDir)); m != nil {
		e.Service, e.Field = m[1], "extends"
	} else if m := reService.FindStringSubmatch(msg); m != nil {
		e.Service = m[1]
		if strings.Contains(msg, "depends on undefined service") {
			e.Field = "depends_on"
		}
		if u := reUndefined.FindStringSubmatch(msg); u != nil {
			e.Field = u[1] + "s"
		}
	}
	if e.Service == "" {
		// compose-go did not say where: look for the offending value, the
		// last ": "-separated part of the message, in the files.
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			if path, pos, ok := res.Positions.findValue(strings.TrimSpace(msg[i+2:])); ok {
				e.Service, e.Field = splitServicePath(path)
				e.Pos = pos
			}
		}
	}
	if e.Service != "" && e.Pos.Line == 0 {
		if pos, ok := res.Positions.Service(e.Service, e.Field); ok && (e.Pos.File == "" || e.Pos.File == pos.File) {
			e.Pos = pos
		}
	}
	if m := reDupKey.FindStringSubmatch(msg); m != nil && e.Pos.Line == 0 {
		// The duplicate, not the first definition.
		e.Pos.Line, _ = strconv.Atoi(m[1])
		e.Field = m[2]
	}
	if e.Pos.Line == 0 && strings.Contains(msg, "yaml") {
		if all := reLine.FindAllStringSubmatch(msg, -1); len(all) > 0 {
			m := all[len(all)-1]
			e.Pos.Line, _ = strconv.Atoi(m[1])
			e.Pos.Column, _ = strconv.Atoi(m[2])
		}
	}
	if e.Pos.File == "" && len(res.Files) > 0 {
		e.Pos.File = res.Files[0]
	}
	e.rel = rel(workDir, e.Pos.File)
	e.Hint = hint(msg)
	return e
}

func cleanMessage(msg string, res *Result, workDir string) string {
	files := append(res.Positions.Files(), res.Files...)
	for _, f := range files {
		msg = strings.ReplaceAll(msg, f, rel(workDir, f))
	}
	msg = strings.ReplaceAll(msg, res.ProjectDir+string(filepath.Separator), "")
	msg = res.Vars.Template(msg)
	msg = strings.ReplaceAll(msg, "decoding failed due to the following error(s):\n\n", "")
	msg = strings.ReplaceAll(msg, "\n", "; ")
	return reConstruct.ReplaceAllString(msg, "")
}

func hint(msg string) string {
	switch {
	case strings.Contains(msg, "compose-go crashed"):
		return "a malformed file: `docker compose config` fails on it too; look for misplaced tags such as !reset"
	case strings.Contains(msg, "Additional property") || strings.Contains(msg, "false schema"):
		return "remove or fix the attribute; see https://docs.docker.com/reference/compose-file/"
	case strings.Contains(msg, "invalid interpolation format"):
		return "escape a literal $ as $$"
	case strings.Contains(msg, "required variable") || strings.Contains(msg, "is missing a value"):
		return "this field is resolved at generation time: set the variable or give it a default with ${VAR:-default}"
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
