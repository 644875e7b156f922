//go:build ignore

// dnsgap reads `go test -json` on stdin, prints the tests' output as go
// test would, and sorts the failures: it exits 0 when nothing failed, 3
// when every failed test failed on Podman 4.3's DNS gap (a container's
// lookup of another service's name failed: docs/troubleshooting.md,
// "Podman: name lookups fail now and then") and prints their names, one
// per line, to the file named by its argument, and 1 otherwise (a failure
// with another cause, a package that failed outside its tests, or input
// it cannot read).
//
//	go test -json ./runtime/ | go run .ci/dnsgap.go rerun.txt
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
		fmt.Fprintln(os.Stderr, "usage: go test -json ... | go run .ci/dnsgap.go RERUN_FILE")
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
		fmt.Fprintln(os.Stderr, "dnsgap:", err)
		os.Exit(1)
	}
	if len(failed) == 0 {
		if pkgFailed {
			fmt.Println("dnsgap: the package failed outside its tests")
			os.Exit(1)
		}
		os.Exit(0)
	}
	var names []string
	other := false
	for name := range failed {
		names = append(names, name)
		text := ""
		if out[name] != nil {
			text = out[name].String()
		}
		gap := false
		for _, s := range signatures {
			gap = gap || strings.Contains(text, s)
		}
		if !gap {
			fmt.Printf("dnsgap: %s failed for another reason than the DNS gap\n", name)
			other = true
		}
	}
	sort.Strings(names)
	if other {
		os.Exit(1)
	}
	fmt.Printf("dnsgap: %d test(s) failed on Podman's DNS gap: %s\n", len(names), strings.Join(names, " "))
	if err := os.WriteFile(os.Args[1], []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "dnsgap:", err)
		os.Exit(1)
	}
	os.Exit(3)
}
