package model

import (
	"strings"
	"testing"
)

// TestMalformedComposeFiles: every malformed file gives an error that names
// the file, the line where there is one, the service and the field; never a
// panic or a stack trace.
func TestMalformedComposeFiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		compose string
		want    []string // besides the file name
	}{
		{"cycle", "services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [c]\n  c:\n    image: busybox\n    depends_on: [a]\n",
			[]string{"compose.yaml:4:5", `service "a"`, "depends_on", "cycle", "a -> b -> c -> a"}},
		{"self dependency", "services:\n  a:\n    image: busybox\n    depends_on: [a]\n",
			[]string{`service "a"`, "depends_on"}},
		{"unknown dependency", "services:\n  web:\n    image: busybox\n    depends_on:\n      db:\n        condition: service_healthy\n",
			[]string{"compose.yaml:", `service "web"`, "depends_on", "db"}},
		{"bad port", "services:\n  web:\n    image: busybox\n    ports:\n      - \"80:80\"\n      - \"notaport:80\"\n",
			[]string{"compose.yaml:", `service "web"`, "ports", "notaport"}},
		{"port out of range", "services:\n  web:\n    image: busybox\n    ports:\n      - \"99999:80\"\n",
			[]string{"compose.yaml:", `service "web"`, "ports"}},
		{"wrong type", "services:\n  web:\n    image: [busybox]\n",
			[]string{"compose.yaml:", `service "web"`, "image"}},
		{"wrong type nested", "services:\n  web:\n    image: busybox\n    healthcheck:\n      retries: many\n",
			[]string{"compose.yaml:", `service "web"`, "healthcheck", "retries"}},
		{"bad duration", "services:\n  web:\n    image: busybox\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: soon\n",
			[]string{"compose.yaml:", `service "web"`, "interval"}},
		{"duplicate key", "services:\n  web:\n    image: busybox\n    image: redis\n",
			[]string{"compose.yaml:4:", "image", "already defined at line 3"}},
		{"duplicate service", "services:\n  web:\n    image: busybox\n  web:\n    image: redis\n",
			[]string{"compose.yaml:4:", "web", "already defined at line 2"}},
		{"unknown field", "services:\n  web:\n    image: busybox\n    imagee: redis\n",
			[]string{"compose.yaml:", `service "web"`, "imagee"}},
		{"unknown top-level field", "services:\n  web:\n    image: busybox\nservicez: {}\n",
			[]string{"compose.yaml:", "servicez"}},
		{"services not a map", "services: [web]\n",
			[]string{"compose.yaml:", "services"}},
		{"not yaml", "services:\n  web:\n    image: \"busybox\n",
			[]string{"compose.yaml:"}},
		{"no image no build", "services:\n  web:\n    command: echo\n",
			[]string{"compose.yaml:", `service "web"`, "image"}},
		{"bad network reference", "services:\n  web:\n    image: busybox\n    networks: [nope]\n",
			[]string{"compose.yaml:", `service "web"`, "networks", "nope"}},
		{"bad volume reference", "services:\n  web:\n    image: busybox\n    volumes: [\"data:/data\"]\n",
			[]string{"compose.yaml:", `service "web"`, "volumes", "data"}},
		// compose-go reports a cycle from any of its services (map order):
		// the message starts at the smallest name, always.
		{"extends cycle", "services:\n  web:\n    extends: api\n  api:\n    extends: web\n",
			[]string{"compose.yaml:5:5", `service "api"`, "extends", "circular reference: api extends web extends api", "break the cycle"}},
		{"extends cycle of three", "services:\n  c:\n    extends: a\n  b:\n    extends: c\n  a:\n    extends: b\n",
			[]string{"compose.yaml:", `service "a"`, "extends", "circular reference: a extends b extends c extends a", "break the cycle"}},
		{"dependency cycle from the other end", "services:\n  z:\n    image: busybox\n    depends_on: [y]\n  y:\n    image: busybox\n    depends_on: [z]\n",
			[]string{"compose.yaml:", `service "y"`, "depends_on", "y -> z -> y"}},
		{"extends unknown service", "services:\n  web:\n    image: busybox\n  api:\n    extends: nope\n",
			[]string{"compose.yaml:", `service "api"`, "nope", "not found"}},
		// Found by FuzzGenerateOverride: compose-go's decoder crashed.
		{"reset tag on the document", "!reset []\n",
			[]string{"compose.yaml:", "cannot be loaded"}},
		{"bad variable syntax", "services:\n  web:\n    image: busybox\n    environment:\n      A: ${NOPE\n",
			[]string{"compose.yaml:", `service "web"`, "environment"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := build(t, tc.compose)
			if err == nil {
				t.Fatalf("no error; project %+v", p.Plan.Services)
			}
			msg := err.Error()
			t.Logf("%s", msg)
			for _, w := range append([]string{"compose.yaml"}, tc.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, "goroutine ") || strings.Contains(msg, "panic") {
				t.Errorf("error carries a stack trace or a panic:\n%s", msg)
			}
			if strings.Contains(msg, "fix the YAML syntax") && !strings.Contains(tc.name, "yaml") && !strings.Contains(tc.name, "duplicate") {
				t.Errorf("a valid YAML file is told to fix its YAML syntax:\n%s", msg)
			}
		})
	}
}
