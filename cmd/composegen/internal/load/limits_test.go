package load

import (
	"context"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
)

// aliasBomb is a 400-byte "billion laughs" compose file: nine levels of
// nine aliases expand to 9^9 nodes.
func aliasBomb() string {
	lines := []string{`  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]`}
	prev := "a"
	for _, c := range "bcdefghi" {
		refs := strings.Repeat("*"+prev+",", 9)
		lines = append(lines, "  "+string(c)+": &"+string(c)+" ["+strings.TrimSuffix(refs, ",")+"]")
		prev = string(c)
	}
	return "x-bomb:\n" + strings.Join(lines, "\n") + "\nservices:\n  web:\n    image: nginx\n"
}

// TestAliasBomb: the position index bounds its walk and refuses the file as
// compose-go does, without exhausting memory. (Bounded by what it
// allocates, not by a clock, which a loaded machine would make flaky: an
// unbounded walk of the 9^9 nodes allocates tens of gigabytes.)
func TestAliasBomb(t *testing.T) {
	bomb := aliasBomb()
	if n := len(bomb); n > 450 {
		t.Fatalf("the bomb is %d bytes", n)
	}
	dir := writeFiles(t, map[string]string{"compose.yaml": bomb})
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	_, err := Load(context.Background(), Options{WorkDir: dir, Environ: []string{}})
	goruntime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "excessive aliasing") || !strings.Contains(err.Error(), "compose.yaml:1") {
		t.Fatalf("err = %v", err)
	}
	const limit = 256 << 20
	if n := after.TotalAlloc - before.TotalAlloc; n > limit {
		t.Errorf("loading the bomb allocated %d MiB, more than %d MiB", n>>20, limit>>20)
	} else {
		t.Logf("loading the bomb allocated %.1f MiB", float64(n)/(1<<20))
	}
}

// TestUnsetVariableInResolvedField: a field resolved at generation that
// uses an unset variable is an error naming the variable, the field and the
// fix when the blank makes it invalid, and a warning when it does not.
func TestUnsetVariableInResolvedField(t *testing.T) {
	for _, tc := range []struct{ field, value, want string }{
		{"ports", `["${PORT}"]`, `compose.yaml:4:13: service "web": ports[0]: ${PORT} is not set, and this field is resolved when generating`},
		{"ports", `["${HOST_PORT}:${PORT}"]`, `${HOST_PORT} and ${PORT} are not set`},
		{"expose", `["${EXPOSED}"]`, `service "web": expose[0]: ${EXPOSED} is not set`},
		{"shm_size", `${SHM}`, `service "web": shm_size: ${SHM} is not set`},
		{"stop_grace_period", `${GRACE}`, `service "web": stop_grace_period: ${GRACE} is not set`},
		{"healthcheck", "\n      test: [\"CMD\", \"true\"]\n      interval: ${EVERY}", `service "web": healthcheck.interval: ${EVERY} is not set`},
	} {
		dir := writeFiles(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n    " + tc.field + ": " + tc.value + "\n"})
		_, err := Load(context.Background(), Options{WorkDir: dir, Environ: []string{}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.field, err, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), "in .env or in go generate's environment, or give a default") {
			t.Errorf("%s: no fix in %v", tc.field, err)
		}
	}
	// A blank that leaves the value valid: a warning, as docker compose
	// warns, in one line with the fix, the explanation in its detail; a
	// blank host port is an ephemeral one, as every port gets by default:
	// Info (-v only).
	for _, tc := range []struct {
		field, value string
		sev          diag.Severity
		line, detail string
	}{
		{"ports", `[{target: 80, name: "${PNAME}"}]`, diag.Warning, `compose.yaml:4:26: service "web": ports[0].name: ${PNAME} is not set: blank (set it in .env or give a default: ${PNAME:-value})`, `"${PNAME}" is resolved when generating (compose parses this field when loading), with a blank string`},
		{"ports", `["${HOST_PORT}:80"]`, diag.Info, `compose.yaml:4:13: service "web": ports[0]: ${HOST_PORT} is not set: blank`, `"${HOST_PORT}:80" is resolved when generating (compose parses this field when loading), with a blank string`},
	} {
		dir := writeFiles(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n    " + tc.field + ": " + tc.value + "\n"})
		r := mustLoad(t, Options{WorkDir: dir})
		found := false
		for _, d := range r.Diagnostics {
			if strings.HasPrefix(d.String(), tc.line) {
				found = true
				if d.Severity != tc.sev || !strings.Contains(d.Detail, tc.detail) {
					t.Errorf("%s: severity %v, detail %q; want %v and %q", tc.field, d.Severity, d.Detail, tc.sev, tc.detail)
				}
			}
		}
		if !found {
			t.Errorf("%s: no diagnostic %q: %v", tc.field, tc.line, r.Diagnostics)
		}
	}
}

// TestPortRangeLimit: a range of more than MaxPortRange ports is refused
// where it is written.
func TestPortRangeLimit(t *testing.T) {
	for _, tc := range []struct{ entry, want string }{
		{`ports: ["1-65535"]`, `compose.yaml:4:13: service "web": ports[0]: "1-65535" declares 65535 ports`},
		{`ports: ["127.0.0.1:20000-20100:20000-20100/udp"]`, `declares 101 ports`},
		{`expose: ["3000-4000"]`, `service "web": expose[0]: "3000-4000" declares 1001 ports`},
	} {
		dir := writeFiles(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n    " + tc.entry + "\n"})
		_, err := Load(context.Background(), Options{WorkDir: dir, Environ: []string{}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.entry, err, tc.want)
		}
	}
	dir := writeFiles(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n    ports: [\"8000-8099:8000-8099\"]\n"})
	if r := mustLoad(t, Options{WorkDir: dir}); len(r.Project.Services["web"].Ports) != MaxPortRange {
		t.Errorf("ports = %d", len(r.Project.Services["web"].Ports))
	}
}

// TestUnknownAttribute: a misspelt attribute is located at its key and gets
// the nearest valid attribute at that place.
func TestUnknownAttribute(t *testing.T) {
	for compose, want := range map[string]string{
		"servicez: {}\nservices:\n  a: {image: busybox}\n":                                                          `compose.yaml:1:1: servicez: unknown attribute (did you mean "services"?`,
		"services:\n  a:\n    image: busybox\n    healthchek:\n      test: [CMD, \"true\"]\n":                       `compose.yaml:4:5: service "a": healthchek: unknown attribute (did you mean "healthcheck"?`,
		"services:\n  a:\n    image: busybox\n    healthcheck:\n      test: [CMD, \"true\"]\n      intervall: 5s\n": `compose.yaml:6:7: service "a": healthcheck.intervall: unknown attribute (did you mean "interval"?`,
		"services:\n  a:\n    image: busybox\nvolumes:\n  data:\n    drivr: local\n":                                `compose.yaml:6:5: volumes.data.drivr: unknown attribute (did you mean "driver"?`,
		"services:\n  a:\n    image: busybox\n    flavour: vanilla\n":                                               `compose.yaml:4:5: service "a": flavour: unknown attribute (see https://docs.docker.com/reference/compose-file/)`,
	} {
		dir := writeFiles(t, map[string]string{"compose.yaml": compose})
		_, err := Load(context.Background(), Options{WorkDir: dir, Environ: []string{}})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}
