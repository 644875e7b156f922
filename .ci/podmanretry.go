//go:build ignore

// podmanretry reads `go test -json` on stdin, prints the tests' output as
// go test would, and sorts the failures: it exits 0 when nothing failed, 3
// when one or two tests failed (it names each with its cause: Podman 4.3's
// DNS gap when a container's lookup of another service's name failed, see
// docs/troubleshooting.md, "Podman: name lookups fail now and then", else
// "another cause") and writes their names, one per line, to the file named
// by its argument, and 1 otherwise (more failures, a package that failed
// outside its tests, or input it cannot read).
//
//	go test -json ./runtime/ | go run .ci/podmanretry.go rerun.txt
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

var signatures = []string{"Name or service not known", "could not translate host name", "bad address"}

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go test -json ... | podmanretry RERUN_FILE")
		os.Exit(1)
	}
	out := map[string]*strings.Builder{} // top-level test → its output, subtests included
	failed := map[string]bool{}
	pkgFailed := false
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Println(sc.Text()) // not an event: the build's output
			continue
		}
		top, _, _ := strings.Cut(e.Test, "/")
		switch e.Action {
		case "output":
			fmt.Print(e.Output)
			if top != "" {
				if out[top] == nil {
					out[top] = &strings.Builder{}
				}
				out[top].WriteString(e.Output)
			}
		case "fail":
			if e.Test == "" {
				pkgFailed = true
			} else {
				failed[top] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "podmanretry:", err)
		os.Exit(1)
	}
	if len(failed) == 0 {
		if pkgFailed {
			fmt.Println("podmanretry: the package failed outside its tests")
			os.Exit(1)
		}
		os.Exit(0)
	}
	var names []string
	for name := range failed {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		text := ""
		if out[name] != nil {
			text = out[name].String()
		}
		cause := "another cause"
		for _, s := range signatures {
			if strings.Contains(text, s) {
				cause = "Podman's DNS gap"
			}
		}
		fmt.Printf("podmanretry: FAILED ON PODMAN: %s (%s)\n", name, cause)
	}
	if len(names) > 2 {
		fmt.Printf("podmanretry: %d tests failed: not run again\n", len(names))
		os.Exit(1)
	}
	if err := os.WriteFile(os.Args[1], []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "podmanretry:", err)
		os.Exit(1)
	}
	os.Exit(3)
}
