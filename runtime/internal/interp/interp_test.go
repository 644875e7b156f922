package interp

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/internal/mask"
)

// writeFiles writes files (path → content) under a new directory and
// returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, s := range files {
		p = filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func newResolver(t *testing.T, dir string, files []composeplan.EnvFile, opts map[string]string, m *mask.Masker) *Resolver {
	t.Helper()
	r, err := New(dir, files, opts, m)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// masked reports whether m hides v inside a text.
func masked(m *mask.Masker, v string) bool {
	got := m.String("<" + v + ">")
	return got == "<"+mask.Hidden+">"
}

// The forms of compose's interpolation, each from an option.
func TestExpandForms(t *testing.T) {
	r := newResolver(t, t.TempDir(), nil, map[string]string{"SET": "value", "EMPTY": ""}, nil)
	for _, tt := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"${SET}", "value"},
		{"$SET", "value"},
		{"a-${SET}-b", "a-value-b"},
		{"${INTERP_TEST_UNSET}", ""},
		{"${INTERP_TEST_UNSET:-dflt}", "dflt"},
		{"${EMPTY:-dflt}", "dflt"},
		{"${SET:-dflt}", "value"},
		{"${INTERP_TEST_UNSET-dflt}", "dflt"},
		{"${EMPTY-dflt}", ""},
		{"${SET:+alt}", "alt"},
		{"${EMPTY:+alt}", ""},
		{"${EMPTY+alt}", "alt"},
		{"${INTERP_TEST_UNSET+alt}", ""},
		{"${SET:?must be set}", "value"},
		{"$${SET}", "${SET}"},
		{"$$SET", "$SET"},
		{"${INTERP_TEST_UNSET:-${SET}}", "value"},
	} {
		got, err := r.Expand("field", tt.in)
		if err != nil {
			t.Errorf("Expand(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// errorSays checks that err, of the call what, says each of wants.
func errorSays(t *testing.T, what string, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one that says %q", what, wants)
		return
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q does not say %q", what, err, w)
		}
	}
}

// An error names the field, and for ExpandAll and ExpandMap the element.
func TestExpandErrorsNameTheField(t *testing.T) {
	r := newResolver(t, t.TempDir(), nil, map[string]string{"SET": "value", "EMPTY": ""}, nil)
	check := func(err error, wants ...string) {
		t.Helper()
		errorSays(t, "Expand", err, wants...)
	}
	_, err := r.Expand("environment.DB_URL", "${INTERP_TEST_UNSET:?set the database URL}")
	check(err, "environment.DB_URL: ", "set the database URL")
	_, err = r.Expand("image", "${EMPTY:?need a tag}")
	check(err, "image: ", "need a tag")
	_, err = r.Expand("container_name", "${SET")
	check(err, "container_name: ")
	_, err = r.ExpandAll("command", []string{"ok", "${SET}", "${INTERP_TEST_UNSET?no arg}"})
	check(err, "command[2]: ", "no arg")
	_, err = r.ExpandMap("labels", map[string]string{"a": "1", "team": "${INTERP_TEST_UNSET:?who}"})
	check(err, "labels.team: ", "who")
}

func TestExpandAllAndMap(t *testing.T) {
	r := newResolver(t, t.TempDir(), nil, map[string]string{"SET": "value"}, nil)
	all, err := r.ExpandAll("command", []string{"run", "--name=${SET}"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"run", "--name=value"}, all); diff != "" {
		t.Errorf("ExpandAll (-want +got):\n%s", diff)
	}
	if all, err := r.ExpandAll("command", nil); all != nil || err != nil {
		t.Errorf("ExpandAll(nil) = %q, %v; want nil, nil", all, err)
	}
	if all, err := r.ExpandAll("command", []string{}); all == nil || len(all) != 0 || err != nil {
		t.Errorf("ExpandAll(empty) = %#v, %v; want an empty slice", all, err)
	}
	m, err := r.ExpandMap("labels", map[string]string{"${SET}": "${SET}", "b": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"${SET}": "value", "b": "x"}, m); diff != "" {
		t.Errorf("ExpandMap resolves values, not keys (-want +got):\n%s", diff)
	}
	if m, err := r.ExpandMap("labels", map[string]string{}); m != nil || err != nil {
		t.Errorf("ExpandMap(empty) = %v, %v; want nil, nil", m, err)
	}
}

// Options win over the process environment, which wins over the project's
// env files; of two env files the later wins.
func TestLookupPrecedence(t *testing.T) {
	t.Setenv("INTERP_TEST_A", "process")
	t.Setenv("INTERP_TEST_B", "process")
	dir := writeFiles(t, map[string]string{
		".env":       "INTERP_TEST_A=dotenv\nINTERP_TEST_B=dotenv\nINTERP_TEST_C=dotenv\nINTERP_TEST_D=first\n",
		"local.env":  "INTERP_TEST_D=second\n",
		"unused.env": "INTERP_TEST_E=unused\n",
	})
	files := []composeplan.EnvFile{{Path: ".env"}, {Path: "local.env"}, {Path: "missing.env"}}
	r := newResolver(t, dir, files, map[string]string{"INTERP_TEST_A": "option"}, nil)
	for name, want := range map[string]string{
		"INTERP_TEST_A": "option",
		"INTERP_TEST_B": "process",
		"INTERP_TEST_C": "dotenv",
		"INTERP_TEST_D": "second",
	} {
		if v, ok := r.Lookup(name); !ok || v != want {
			t.Errorf("Lookup(%s) = %q, %v; want %q", name, v, ok, want)
		}
	}
	if v, ok := r.Lookup("INTERP_TEST_E"); ok {
		t.Errorf("Lookup of a variable of no env file of the project = %q, want unset", v)
	}
	if v, err := r.Expand("f", "${INTERP_TEST_A}/${INTERP_TEST_B}/${INTERP_TEST_C}"); err != nil || v != "option/process/dotenv" {
		t.Errorf("Expand = %q, %v", v, err)
	}
}

// The project's env files are interpolated from the options and the
// process environment.
func TestProjectEnvFileInterpolated(t *testing.T) {
	t.Setenv("INTERP_TEST_HOST", "db.local")
	dir := writeFiles(t, map[string]string{".env": "INTERP_TEST_URL=pg://${INTERP_TEST_HOST}:${INTERP_TEST_PORT:-1}/x\n"})
	r := newResolver(t, dir, []composeplan.EnvFile{{Path: ".env"}}, map[string]string{"INTERP_TEST_PORT": "5432"}, nil)
	if v, _ := r.Lookup("INTERP_TEST_URL"); v != "pg://db.local:5432/x" {
		t.Errorf("INTERP_TEST_URL = %q", v)
	}
}

func TestNewErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{"bad.env": "INTERP_TEST_X=${INTERP_TEST_UNSET:?is required}\n"})
	for _, tt := range []struct {
		file  composeplan.EnvFile
		wants []string
	}{
		{composeplan.EnvFile{Path: "missing.env", Required: true}, []string{"env file " + filepath.Join(dir, "missing.env"), "no such file"}},
		{composeplan.EnvFile{Path: "bad.env"}, []string{"env file " + filepath.Join(dir, "bad.env"), "is required"}},
	} {
		_, err := New(dir, []composeplan.EnvFile{tt.file}, nil, nil)
		errorSays(t, fmt.Sprintf("New with %+v", tt.file), err, tt.wants...)
	}
}

// A service's env files apply in order, the later winning; its environment
// entries win over them; an entry without a value comes from Lookup.
func TestServiceEnvPrecedence(t *testing.T) {
	t.Setenv("INTERP_TEST_FROM_PROCESS", "proc")
	dir := writeFiles(t, map[string]string{
		"a.env":   "A=a\nB=a\nC=a\nURL=http://${INTERP_TEST_HOST}/\n",
		"b.env":   "B=b\nC=b\n",
		"raw.env": "# comment\r\nRAW=$NOT_EXPANDED \"quoted\"\r\n\r\nEQ=x=y\n",
	})
	spec := &composeplan.ServiceSpec{
		Name: "web",
		EnvFiles: []composeplan.EnvFile{
			{Path: "a.env"}, {Path: "b.env"}, {Path: "gone.env"}, {Path: "raw.env", Format: "raw"},
		},
		Environment: []composeplan.EnvVar{
			{Name: "C", Value: "env-${INTERP_TEST_HOST}"},
			{Name: "INTERP_TEST_FROM_PROCESS", FromEnv: true},
			{Name: "INTERP_TEST_HOST", FromEnv: true},
			{Name: "INTERP_TEST_UNSET", FromEnv: true},
		},
	}
	r := newResolver(t, dir, nil, map[string]string{"INTERP_TEST_HOST": "h"}, nil)
	env, err := r.ServiceEnv(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"A": "a", "B": "b", "C": "env-h", "URL": "http://h/",
		"RAW": `$NOT_EXPANDED "quoted"`, "EQ": "x=y",
		"INTERP_TEST_FROM_PROCESS": "proc", "INTERP_TEST_HOST": "h",
	}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("ServiceEnv (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{
		"A=a", "B=b", "C=env-h", "EQ=x=y", "INTERP_TEST_FROM_PROCESS=proc", "INTERP_TEST_HOST=h",
		`RAW=$NOT_EXPANDED "quoted"`, "URL=http://h/",
	}, List(env)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

func TestServiceEnvErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"raw.env": "A=1\nno equals sign\n",
		"req.env": "A=${INTERP_TEST_UNSET:?set it}\n",
	})
	r := newResolver(t, dir, nil, nil, nil)
	for _, tt := range []struct {
		spec  composeplan.ServiceSpec
		wants []string
	}{
		{composeplan.ServiceSpec{EnvFiles: []composeplan.EnvFile{{Path: "missing.env", Required: true}}}, []string{"env_file missing.env: ", "no such file"}},
		{composeplan.ServiceSpec{EnvFiles: []composeplan.EnvFile{{Path: "raw.env", Format: "raw"}}}, []string{"env_file raw.env: ", "want NAME=value"}},
		{composeplan.ServiceSpec{EnvFiles: []composeplan.EnvFile{{Path: "req.env"}}}, []string{"env_file req.env: ", "set it"}},
		{composeplan.ServiceSpec{Environment: []composeplan.EnvVar{{Name: "X", Value: "${INTERP_TEST_UNSET:?set X}"}}}, []string{"environment.X: ", "set X"}},
	} {
		_, err := r.ServiceEnv(dir, &tt.spec)
		errorSays(t, fmt.Sprintf("ServiceEnv(%+v)", tt.spec), err, tt.wants...)
	}
}

// The masker learns the secrets of the options and the project's env files
// at once, those that Lookup and Expand resolve later, and those of a
// service's environment; not the values of other variables.
func TestSecretsRegisteredWithTheMasker(t *testing.T) {
	t.Setenv("INTERP_TEST_PROC_TOKEN", "proc-token-value")
	t.Setenv("INTERP_TEST_PROC_UNUSED_TOKEN", "unused-token-value")
	t.Setenv("INTERP_TEST_PROC_USER", "proc-user-value")
	dir := writeFiles(t, map[string]string{
		".env":    "DOTENV_PASSWORD=dotenv-pw-value\nDOTENV_HOST=dotenv-host-value\nDOTENV_DSN=host=db password=dsn-pw-value\n",
		"web.env": "FILE_SECRET=file-secret-value\nFILE_PLAIN=file-plain-value\n",
	})
	m := &mask.Masker{}
	r := newResolver(t, dir, []composeplan.EnvFile{{Path: ".env"}}, map[string]string{
		"OPT_API_KEY": "opt-key-value", "OPT_NAME": "opt-name-value",
	}, m)
	for v, want := range map[string]bool{
		"opt-key-value": true, "dotenv-pw-value": true, "dsn-pw-value": true,
		"opt-name-value": false, "dotenv-host-value": false,
		"proc-token-value": false, // not looked up yet
	} {
		if masked(m, v) != want {
			t.Errorf("after New: masked(%q) = %v, want %v", v, !want, want)
		}
	}

	if _, err := r.Expand("command", "--token=${INTERP_TEST_PROC_TOKEN} --user=${INTERP_TEST_PROC_USER}"); err != nil {
		t.Fatal(err)
	}
	if !masked(m, "proc-token-value") {
		t.Error("a secret resolved by Expand is not masked")
	}
	if masked(m, "proc-user-value") {
		t.Error("a value of a plain variable is masked")
	}
	if masked(m, "unused-token-value") {
		t.Error("a secret of the process environment that nothing looked up is masked")
	}

	env, err := r.ServiceEnv(dir, &composeplan.ServiceSpec{
		EnvFiles:    []composeplan.EnvFile{{Path: "web.env"}},
		Environment: []composeplan.EnvVar{{Name: "APP_PASSWORD", Value: "literal-pw-value"}, {Name: "APP_MODE", Value: "literal-mode-value"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(env) != 4 {
		t.Errorf("env = %v", env)
	}
	for v, want := range map[string]bool{
		"file-secret-value": true, "literal-pw-value": true,
		"file-plain-value": false, "literal-mode-value": false,
	} {
		if masked(m, v) != want {
			t.Errorf("after ServiceEnv: masked(%q) = %v, want %v", v, !want, want)
		}
	}
}

// A resolver without a masker resolves the same.
func TestNilMasker(t *testing.T) {
	dir := writeFiles(t, map[string]string{".env": "INTERP_TEST_PASSWORD=pw-value\n"})
	r := newResolver(t, dir, []composeplan.EnvFile{{Path: ".env"}}, map[string]string{"OPT_SECRET": "s"}, nil)
	v, err := r.Expand("f", "${INTERP_TEST_PASSWORD}/${OPT_SECRET}")
	if err != nil || v != "pw-value/s" {
		t.Errorf("Expand = %q, %v", v, err)
	}
	env, err := r.ServiceEnv(dir, &composeplan.ServiceSpec{Environment: []composeplan.EnvVar{{Name: "INTERP_TEST_PASSWORD", FromEnv: true}}})
	if err != nil || env["INTERP_TEST_PASSWORD"] != "pw-value" {
		t.Errorf("ServiceEnv = %v, %v", env, err)
	}
}

func TestParseRawEnv(t *testing.T) {
	got, err := parseRawEnv([]byte("A=1\r\n#B=2\n\nC= spaced \nD=\nE='q'"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"A": "1", "C": " spaced ", "D": "", "E": "'q'"}, got); diff != "" {
		t.Errorf("parseRawEnv (-want +got):\n%s", diff)
	}
}

// An error of a raw env file names the line by its number and does not
// show its text.
func TestParseRawEnvErrorHidesTheLine(t *testing.T) {
	_, err := parseRawEnv([]byte("A=1\n\nDB_PASSWORD hunter2-value\n"))
	if err == nil {
		t.Fatal("no error for a line without =")
	}
	if want := "line 3: want NAME=value"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestListSorted(t *testing.T) {
	if got := List(nil); got == nil || len(got) != 0 {
		t.Errorf("List(nil) = %#v, want an empty slice", got)
	}
	got := List(map[string]string{"b": "2", "a": "1", "C": "3"})
	if diff := cmp.Diff([]string{"C=3", "a=1", "b=2"}, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}
