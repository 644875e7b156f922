package model

import (
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/composegen/composegen/templates"
)

// idles reports whether the service's entrypoint and command keep its
// container idle, doing nothing until it is stopped: sleep infinity (or for
// an hour or more), tail -f /dev/null, a loop of sleeps, possibly after
// some setup in a shell script. Such a service of a server's image is a
// toolbox that tests Exec its clients in; its lack of a kind is expected,
// not a warning.
func (sb *serviceBuilder) idles(srv *templates.Server) bool {
	argv := sb.spec.Command
	if ep := sb.spec.Entrypoint; len(ep) > 0 {
		argv = append(slices.Clone(ep), argv...)
	}
	return idleArgv(srv, argv, 0)
}

// idleArgv reports whether argv idles; srv's entrypoint scripts run what
// follows them.
func idleArgv(srv *templates.Server, argv []string, depth int) bool {
	for len(argv) > 0 && isAssignment(argv[0]) {
		argv = argv[1:]
	}
	if len(argv) == 0 || depth > 8 {
		return false
	}
	first := unescape(argv[0])
	if words := strings.Fields(first); len(words) > 1 {
		return idleArgv(srv, append(words, argv[1:]...), depth+1)
	}
	if strings.Contains(first, "$") {
		def, ok := variableDefault(first)
		return ok && idleArgv(srv, append(strings.Fields(def), argv[1:]...), depth+1)
	}
	base, rest := path.Base(first), argv[1:]
	switch {
	case base == "sleep":
		return sleepsLong(rest)
	case base == "tail":
		return tailsNull(rest)
	case srv != nil && slices.Contains(srv.Entrypoints, base):
		return idleArgv(srv, rest, depth+1)
	case slices.Contains(shells, base):
		script, ok := shellScript(rest)
		return ok && scriptIdles(srv, script, depth+1)
	}
	if n, ok := genericWrappers[base]; ok {
		return idleArgv(srv, skipOptions(rest, n), depth+1)
	}
	return false
}

// sleepsLong reports whether sleep's arguments make it sleep for an hour or
// more: infinity, 1d, 2h, 3600.
func sleepsLong(args []string) bool {
	total := 0.0
	for _, a := range args {
		a = unescape(a)
		if a == "infinity" || a == "inf" {
			return true
		}
		unit := 1.0
		switch {
		case strings.HasSuffix(a, "s"):
			a = strings.TrimSuffix(a, "s")
		case strings.HasSuffix(a, "m"):
			a, unit = strings.TrimSuffix(a, "m"), 60
		case strings.HasSuffix(a, "h"):
			a, unit = strings.TrimSuffix(a, "h"), 3600
		case strings.HasSuffix(a, "d"):
			a, unit = strings.TrimSuffix(a, "d"), 86400
		}
		n, err := strconv.ParseFloat(a, 64)
		if err != nil || n < 0 {
			return false
		}
		total += n * unit
	}
	return total >= 3600
}

// tailsNull reports whether tail's arguments follow /dev/null (tail -f
// /dev/null), which never ends.
func tailsNull(args []string) bool {
	follow, null := false, false
	for _, a := range args {
		switch {
		case a == "/dev/null":
			null = true
		case a == "--follow" || strings.HasPrefix(a, "--follow="):
			follow = true
		case strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.ContainsAny(a, "fF"):
			follow = true
		}
	}
	return follow && null
}

// scriptIdles reports whether a shell script ends idle: its last command
// (before a final wait) idles, or it loops forever on sleeps (while true;
// do sleep 1; done).
func scriptIdles(srv *templates.Server, script string, depth int) bool {
	cmds := simpleCommands(unescape(script))
	for i, c := range cmds {
		if infiniteLoop(c) && sleepBody(cmds[i+1:]) {
			return true
		}
	}
	for i := len(cmds) - 1; i >= 0; i-- {
		c := cmds[i]
		switch c[0] {
		case "wait", "done", "fi", "esac", "}":
			continue
		}
		for len(c) > 0 && shellKeywords[c[0]] {
			c = c[1:]
		}
		return idleArgv(srv, c, depth)
	}
	return false
}

// infiniteLoop reports whether a simple command opens a loop that never
// ends by its condition: while true, while :, until false.
func infiniteLoop(c []string) bool {
	return len(c) == 2 && (c[0] == "while" && (c[1] == "true" || c[1] == ":") || c[0] == "until" && c[1] == "false")
}

// sleepBody reports whether the commands that follow a loop's condition,
// from its do to its done, only sleep (or wait, or do nothing).
func sleepBody(cmds [][]string) bool {
	slept := false
	for i, c := range cmds {
		if i == 0 {
			if c[0] != "do" {
				return false
			}
			c = c[1:]
		}
		if len(c) == 0 {
			continue
		}
		switch c[0] {
		case "done":
			return slept && len(c) == 1
		case "sleep":
			slept = true
		case "wait", "true", ":":
		default:
			return false
		}
	}
	return false
}
