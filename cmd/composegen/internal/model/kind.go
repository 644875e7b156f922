package model

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
	"github.com/composegen/composegen/templates"
)

// detectKind decides the service's kind: x-composegen's kind when set
// ("none" for no kind), else the kind of its image, provided that its
// entrypoint and command run the kind's server (see runsServer).
func (sb *serviceBuilder) detectKind() {
	var kind *templates.Kind
	switch sb.ext.kind {
	case KindNone:
	case "":
		kind = templates.Match(sb.spec.Image)
		if kind != nil {
			if ok, field, cmd, client := sb.runsServer(kind); !ok {
				sb.kindless(kind, field, cmd, client)
				kind = nil
			}
		}
	default:
		kind = templates.ByName(sb.ext.kind)
		if kind == nil {
			sb.failHint(sb.s.Name, ExtensionKey+".kind", diag.DidYouMean(sb.ext.kind, append(templates.Kinds(), KindNone)),
				"unknown kind %q; known kinds: %s, and none", sb.ext.kind, strings.Join(templates.Kinds(), ", "))
		}
	}
	if kind != nil {
		sb.kind = kind
		sb.spec.Kind = kind.Name
		sb.ms.Kind = kind.Name
		sb.spec.FileEnv = slices.Clone(kind.FileEnv)
	}
}

// kindless reports that a service of a kind's image runs something else
// than the server, and notes it in the type's doc. A toolbox that idles
// (sleep infinity) and a one-shot of the kind's clients (a psql migration)
// are plainly not the server: the diagnostic is Info, printed with -v only.
// Anything else is a warning, in case it runs the server in a way that
// composegen does not see.
func (sb *serviceBuilder) kindless(kind *templates.Kind, field, cmd, client string) {
	var accessors []string
	for _, a := range kind.Accessors {
		accessors = append(accessors, a.Name+"()")
	}
	what := "no readiness probe of kind " + kind.Name
	if len(accessors) > 0 {
		what += ", no " + strings.Join(accessors, ", ")
	}
	if len(kind.Ports) > 0 {
		what += fmt.Sprintf(", no default port %s", joinInts(kind.Ports))
	}
	runs := "does not run the server"
	if client != "" {
		runs = "runs " + client + ", a client, not the server"
	}
	detail := fmt.Sprintf("The image %s is of kind %s, but its %s (%s) %s, so the service gets no kind: %s.",
		sb.spec.Image, kind.Name, field, clip(cmd, 80), runs, what)
	var d diag.Diagnostic
	switch {
	case sb.idles(kind.Server):
		d = sb.at(diag.Info, sb.s.Name, field, "idles (%s): a toolbox of the %s image, without kind", clip(cmd, 60), kind.Name)
		d.Detail = detail + " Run its clients with Service().Exec; the in-network accessors of the stack's services (InternalDSN, InternalURL, InternalAddr) give the addresses it reaches them at."
		sb.ms.Notes = append(sb.ms.Notes, fmt.Sprintf("Its %s (%s) keeps it idle: a toolbox of an image of kind %s, without the kind's accessors. Run its clients with Service().Exec, giving them the in-network accessors of the stack's services (InternalDSN, InternalURL, InternalAddr).", field, oneLine(clip(cmd, 80)), kind.Name))
		sb.diags = append(sb.diags, d)
		return
	case client != "":
		d = sb.at(diag.Info, sb.s.Name, field, "runs %s, a client of kind %s, not the server: no kind", client, kind.Name)
		d.Detail = detail
	default:
		d = sb.at(diag.Warning, sb.s.Name, field, "runs no %s server: no kind", kind.Name)
		d.Hint = fmt.Sprintf("set x-composegen.kind: %s if it does, none if not", kind.Name)
		d.Detail = detail + fmt.Sprintf(" If it does run the server, set x-composegen: {kind: %s}; x-composegen: {kind: none} says it does not and silences this warning.", kind.Name)
	}
	sb.diags = append(sb.diags, d)
	sb.ms.Notes = append(sb.ms.Notes, fmt.Sprintf("Its image is of kind %s, but its %s (%s) does not run the server, so it has no kind: set x-composegen: {kind: %s} in the compose file if it does.", kind.Name, field, oneLine(clip(cmd, 80)), kind.Name))
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// runsServer reports whether the service's entrypoint and command run the
// kind's server. When they do not, it returns the field that decides
// ("entrypoint" or "command"), the command as written, and the first of the
// kind's client programs that it runs ("" if none).
//
// A program it does not know, a script file included, does not run the
// server: wrongly keeping a kind makes the start wait for a server that never
// answers, while wrongly dropping it is a warning at generation that says
// how to set the kind. A program written as a variable is decided by its
// default (${PG_COMMAND:-postgres}), else counts as the server.
func (sb *serviceBuilder) runsServer(kind *templates.Kind) (ok bool, field, cmd, client string) {
	srv := kind.Server
	ep, command := sb.spec.Entrypoint, sb.spec.Command
	if srv == nil {
		return true, "", "", ""
	}
	var argv []string
	viaEntrypoint := false
	switch {
	case ep == nil: // the image's entrypoint
		if srv.Always || len(command) == 0 {
			return true, "", "", ""
		}
		argv, viaEntrypoint, field = command, true, "command"
	case len(ep) == 0: // entrypoint: [] clears it: the command runs as is
		if command == nil {
			return true, "", "", "" // the image's command, unknown
		}
		argv, field = command, "command"
	default:
		argv, field = append(slices.Clone(ep), command...), "entrypoint"
	}
	if runs(srv, argv, viaEntrypoint, 0, serverProgram) {
		return true, "", "", ""
	}
	runs(srv, argv, viaEntrypoint, 0, func(srv *templates.Server, base string) bool {
		if slices.Contains(srv.Clients, base) {
			client = base
			return true
		}
		return false
	})
	return false, field, shellJoin(argv), client
}

// serverProgram reports whether the program base is the server.
func serverProgram(srv *templates.Server, base string) bool {
	return slices.Contains(srv.Commands, base)
}

// genericWrappers run the command given as their arguments; the value is
// the number of operands they take before it (gosu USER cmd).
var genericWrappers = map[string]int{
	"exec": 0, "env": 0, "tini": 0, "dumb-init": 0, "nice": 0, "nohup": 0, "setsid": 0,
	"gosu": 1, "su-exec": 1, "chpst": 0, "s6-setuidgid": 1, "timeout": 1, "catatonit": 0,
}

var shells = []string{"sh", "bash", "ash", "dash", "zsh", "ksh"}

// runs reports whether argv runs a program for which is reports true
// (serverProgram: the server), or whether it cannot tell (a variable
// without a default). viaEntrypoint says that the image's entrypoint script
// runs argv.
func runs(srv *templates.Server, argv []string, viaEntrypoint bool, depth int, is func(*templates.Server, string) bool) bool {
	for len(argv) > 0 && isAssignment(argv[0]) {
		argv = argv[1:]
	}
	if len(argv) == 0 || depth > 8 {
		return true
	}
	first := unescape(argv[0])
	if words := strings.Fields(first); len(words) > 1 {
		// "redpanda start" as one list item: the images' entrypoint
		// scripts split it into words.
		return runs(srv, append(words, argv[1:]...), viaEntrypoint, depth+1, is)
	}
	if strings.Contains(first, "$") {
		def, ok := variableDefault(first)
		if !ok {
			return true // decided when the stack starts: cannot tell
		}
		return runs(srv, append(strings.Fields(def), argv[1:]...), viaEntrypoint, depth+1, is)
	}
	if viaEntrypoint && srv.Flags && strings.HasPrefix(first, "-") {
		return true
	}
	base := path.Base(first)
	rest := argv[1:]
	switch {
	case is(srv, base):
		return true
	case slices.Contains(srv.Entrypoints, base):
		return len(rest) == 0 || runs(srv, rest, true, depth+1, is)
	case slices.Contains(srv.Wrappers, base):
		return runs(srv, skipOptions(rest, 0), false, depth+1, is)
	}
	if n, ok := genericWrappers[base]; ok {
		return runs(srv, skipOptions(rest, n), viaEntrypoint, depth+1, is)
	}
	if slices.Contains(shells, base) {
		script, ok := shellScript(rest)
		if !ok {
			return false // a script file: a program it does not know
		}
		return scriptRuns(srv, script, depth+1, is)
	}
	return false
}

// variableDefault returns the default of a word that is one variable with a
// default: "${X:-postgres}" → "postgres".
func variableDefault(word string) (string, bool) {
	inner, ok := strings.CutPrefix(word, "${")
	if !ok || !strings.HasSuffix(inner, "}") {
		return "", false
	}
	inner = strings.TrimSuffix(inner, "}")
	for _, sep := range []string{":-", "-"} {
		if i := strings.Index(inner, sep); i > 0 && isName(inner[:i]) {
			def := inner[i+len(sep):]
			return def, def != "" && !strings.Contains(def, "$")
		}
	}
	return "", false
}

func isAssignment(s string) bool {
	i := strings.IndexByte(s, '=')
	return i > 0 && isName(s[:i])
}

func isName(s string) bool {
	for i, c := range s {
		if c != '_' && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// skipOptions drops a wrapper's options ("--", "-s", "VAR=x") and then n
// operands.
func skipOptions(args []string, n int) []string {
	for len(args) > 0 && (strings.HasPrefix(args[0], "-") || isAssignment(args[0])) {
		args = args[1:]
	}
	for ; n > 0 && len(args) > 0; n-- {
		args = args[1:]
	}
	return args
}

// shellScript returns the script of a shell's arguments ("-c script", "-ec
// script"), false when the shell runs a file or reads standard input.
func shellScript(args []string) (string, bool) {
	for i, a := range args {
		if !strings.HasPrefix(a, "-") {
			return "", false
		}
		if strings.Contains(a, "c") && !strings.HasPrefix(a, "--") && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// scriptRuns reports whether one of the simple commands of a shell script
// runs a program for which is reports true.
func scriptRuns(srv *templates.Server, script string, depth int, is func(*templates.Server, string) bool) bool {
	for _, cmd := range simpleCommands(unescape(script)) {
		for len(cmd) > 0 && shellKeywords[cmd[0]] {
			cmd = cmd[1:]
		}
		if len(cmd) > 0 && runs(srv, cmd, false, depth, is) {
			return true
		}
	}
	return false
}

var shellKeywords = map[string]bool{"if": true, "then": true, "else": true, "elif": true, "do": true, "while": true, "until": true, "!": true, "{": true, "time": true}

// simpleCommands splits a shell script into its simple commands, each a
// list of words: at ; & | && || newlines and parentheses, outside quotes.
// It is a sketch of the shell's grammar, enough to find which programs a
// script runs.
func simpleCommands(script string) [][]string {
	var cmds [][]string
	var words []string
	var word strings.Builder
	inWord := false
	endWord := func() {
		if inWord {
			words = append(words, word.String())
			word.Reset()
			inWord = false
		}
	}
	endCmd := func() {
		endWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
			words = nil
		}
	}
	var quote rune
	for _, r := range script {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				word.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ';' || r == '&' || r == '|' || r == '\n' || r == '(' || r == ')' || r == '`':
			endCmd()
		case r == ' ' || r == '\t':
			endWord()
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	endCmd()
	return cmds
}
