package emit

import (
	"fmt"
	"strings"
	"testing"
)

// TestNilServiceMethodsPanicWithMessage calls every exported method of
// every service type of the compose cases on a nil receiver (as on the
// Stack field of a service the stack instance does not run), in a program
// built from the generated files: each must panic with the service's
// message from the model, none with a nil pointer dereference.
func TestNilServiceMethodsPanicWithMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	files := map[string][]byte{}
	var imports, calls strings.Builder
	for _, name := range composeCases(t) {
		p := composeProject(t, name)
		out, err := File(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		files[name+"/compose_gen.go"] = out
		fmt.Fprintf(&imports, "\t%s \"x/%s\"\n", name, name)
		for _, s := range p.Services {
			fmt.Fprintf(&calls, "\tcheck(%q, (*%s.%s)(nil), %q)\n", name+"."+s.TypeName, name, s.TypeName, s.AbsentPanic)
		}
	}
	if calls.Len() == 0 {
		t.Fatal("no service in the compose cases")
	}
	files["nilcheck/main.go"] = []byte(`package main

import (
	"fmt"
	"os"
	"reflect"

` + imports.String() + `)

var bad, methods int

// check calls every exported method of v, a nil pointer, with zero
// arguments, and wants a panic with want.
func check(typ string, v any, want string) {
	rv := reflect.ValueOf(v)
	for i := 0; i < rv.Type().NumMethod(); i++ {
		m := rv.Type().Method(i)
		args := []reflect.Value{rv}
		for j := 1; j < m.Type.NumIn(); j++ {
			args = append(args, reflect.Zero(m.Type.In(j)))
		}
		methods++
		func() {
			defer func() {
				if r := recover(); r != want {
					bad++
					fmt.Fprintf(os.Stderr, "%s.%s on nil: panic %v\n", typ, m.Name, r)
				}
			}()
			m.Func.Call(args)
		}()
	}
}

func main() {
` + calls.String() + `	fmt.Printf("%d methods\n", methods)
	if bad > 0 {
		os.Exit(1)
	}
}
`)
	dir := tempModule(t, files)
	out := string(goCmd(t, dir, "run", "./nilcheck"))
	var n int
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "%d methods", &n); err != nil || n < 50 {
		// Every type has at least the five fixed methods.
		t.Errorf("checked too few methods (%q): the test does not cover the generated types", out)
	}
}
