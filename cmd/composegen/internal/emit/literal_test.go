package emit

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/dave/jennifer/jen"
)

func renderLiteral(t *testing.T, v any) (string, bool) {
	t.Helper()
	var l literal
	code, err := l.value(reflect.ValueOf(v), false, "")
	if err != nil {
		t.Fatal(err)
	}
	f := jen.NewFile("x")
	f.ImportName(runtimePkg, "runtime")
	f.Var().Id("v").Op("=").Add(code)
	s := fmt.Sprintf("%#v", f)
	_, after, _ := strings.Cut(s, "var v = ")
	return strings.TrimSpace(after), l.usedPtr
}

func TestLiteral(t *testing.T) {
	type named string
	tests := []struct {
		name string
		v    any
		want string
		ptr  bool
	}{
		{"string", "a\"b\n`c`", `"a\"b\n` + "`c`" + `"`, false},
		{"bool", true, "true", false},
		{"int", 42, "42", false},
		{"int64", int64(-7), "-7", false},
		{"uint32", uint32(7), "7", false},
		{"float", 1.5, "1.5", false},
		{"duration seconds", 5 * time.Second, "5 * time.Second", false},
		{"duration one minute", time.Minute, "time.Minute", false},
		{"duration ms", 1500 * time.Millisecond, "1500 * time.Millisecond", false},
		{"duration 90s", 90 * time.Second, "90 * time.Second", false},
		{"duration ns", 3 * time.Nanosecond, "time.Duration(3)", false},
		{"nil slice", []string(nil), "[]string{}", false}, // top-level: only fields omit nil
		{"empty slice", []string{}, "[]string{}", false},
		{"slice", []string{"a", "b"}, `[]string{"a", "b"}`, false},
		{"map sorted", map[string]string{"b": "2", "a": "1"}, "map[string]string{\n\t\"a\": \"1\",\n\t\"b\": \"2\",\n}", false},
		{"int map sorted", map[int]bool{10: true, 9: false}, "map[int]bool{\n\t9:  false,\n\t10: true,\n}", false},
		{"struct zero fields omitted", composeplan.EnvVar{Name: "A"}, `composeplan.EnvVar{Name: "A"}`, false},
		{"empty struct", composeplan.EnvVar{}, `composeplan.EnvVar{}`, false},
		{"empty non-nil slice field kept", composeplan.ServiceSpec{Entrypoint: []string{}}, `composeplan.ServiceSpec{Entrypoint: []string{}}`, false},
		{"nil slice field omitted", composeplan.ServiceSpec{Name: "x", Entrypoint: nil}, `composeplan.ServiceSpec{Name: "x"}`, false},
		{"pointer to struct", &composeplan.ProbeSpec{Protocol: "tcp", Port: 1}, `&composeplan.ProbeSpec{Protocol: "tcp", Port: 1}`, false},
		{"struct slice elided", []composeplan.EnvVar{{Name: "A", Value: "1"}}, "[]composeplan.EnvVar{\n\t{Name: \"A\", Value: \"1\"},\n}", false},
		{"pointer slice elided", []*composeplan.EnvVar{{Name: "A"}, nil}, "[]*composeplan.EnvVar{\n\t{Name: \"A\"},\n\tnil,\n}", false},
		{"bool pointer", composeplan.ServiceSpec{Init: boolPtr(true)}, "composeplan.ServiceSpec{Init: composePtr(true)}", true},
		{"duration pointer", composeplan.ServiceSpec{StopGracePeriod: durPtr(2 * time.Second)}, "composeplan.ServiceSpec{StopGracePeriod: composePtr(2 * time.Second)}", true},
		{"zero duration pointer", composeplan.ServiceSpec{StopGracePeriod: durPtr(0)}, "composeplan.ServiceSpec{StopGracePeriod: composePtr[time.Duration](time.Duration(0))}", true},
		{"mode pointer octal", composeplan.FileRef{Mode: u32Ptr(0o640)}, "composeplan.FileRef{Mode: composePtr[uint32](0o640)}", true},
		{"named string", named("x"), `"x"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ptr := renderLiteral(t, tt.v)
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if ptr != tt.ptr {
				t.Errorf("usedPtr = %v, want %v", ptr, tt.ptr)
			}
		})
	}
}

func TestLiteralUnsupported(t *testing.T) {
	var l literal
	if _, err := l.value(reflect.ValueOf(struct{ F func() }{F: func() {}}), false, ""); err == nil {
		t.Error("func field: no error")
	}
}
