package sharekey

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/composegen/composegen/runtime/composeplan"
)

// fakeResolver resolves "${NAME}" from vars; anything else with a "$"
// fails. It counts the templates it is asked for.
type fakeResolver struct {
	vars    map[string]string
	expands int
}

func (r *fakeResolver) Expand(field, s string) (string, error) {
	r.expands++
	if strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}") {
		return r.vars[s[2:len(s)-1]], nil
	}
	if strings.Contains(s, "$") {
		return "", errors.New("bad template")
	}
	return s, nil
}

func (r *fakeResolver) Lookup(name string) (string, bool) {
	v, ok := r.vars[name]
	return v, ok
}

func sum(write func(k *Hasher)) string {
	k := New(nil)
	write(k)
	return k.Sum()
}

// Each value is length-prefixed: no two sequences write the same bytes,
// and the bytes are those of the documented format (keys of kept stacks
// must not change between versions).
func TestStr(t *testing.T) {
	if sum(func(k *Hasher) { k.Str("ab"); k.Str("c") }) == sum(func(k *Hasher) { k.Str("a"); k.Str("bc") }) {
		t.Error(`"ab","c" and "a","bc" hash alike`)
	}
	if sum(func(k *Hasher) { k.Strs([]string{"a", "b"}) }) == sum(func(k *Hasher) { k.Strs([]string{"a"}); k.Str("b") }) {
		t.Error("a list of two and a list of one then a string hash alike")
	}
	want := sha256.Sum256([]byte("\x01x\x00"))
	if got := sum(func(k *Hasher) { k.Str("x"); k.Str("") }); got != hex.EncodeToString(want[:]) {
		t.Errorf("Str wrote another format: %s", got)
	}
}

func testPlan() *composeplan.Plan {
	return &composeplan.Plan{
		Name: "keys",
		Services: []composeplan.ServiceSpec{{
			Name: "db", Image: "img",
			Environment: []composeplan.EnvVar{
				{Name: "PASSWORD", Value: "${PASSWORD}"},
				{Name: "FROM_ENV", FromEnv: true},
			},
			Labels: map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"},
		}},
	}
}

func planSum(plan *composeplan.Plan, vars map[string]string) string {
	k := New(&fakeResolver{vars: vars})
	k.Plan(plan)
	return k.Sum()
}

// The plan is hashed with its templates resolved and its bare variables'
// values, in no map order; only strings with a "$" are templates.
func TestPlan(t *testing.T) {
	vars := map[string]string{"PASSWORD": "hunter2", "FROM_ENV": "a"}
	base := planSum(testPlan(), vars)
	for i := 0; i < 20; i++ {
		if planSum(testPlan(), vars) != base {
			t.Fatal("the same plan hashed otherwise (map order?)")
		}
	}
	if planSum(testPlan(), map[string]string{"PASSWORD": "hunter3", "FROM_ENV": "a"}) == base {
		t.Error("a template's value did not change the hash")
	}
	if planSum(testPlan(), map[string]string{"PASSWORD": "hunter2", "FROM_ENV": "b"}) == base {
		t.Error("a bare variable's value did not change the hash")
	}
	if planSum(testPlan(), map[string]string{"PASSWORD": "hunter2"}) == base {
		t.Error("an unset bare variable hashed as a set one")
	}
	p := testPlan()
	p.Services[0].Labels["c"] = "changed"
	if planSum(p, vars) == base {
		t.Error("a label did not change the hash")
	}
	// A template that fails hashes as itself, stably.
	p = testPlan()
	p.Services[0].Image = "$(bad"
	bad := planSum(p, vars)
	if bad == base || bad != planSum(p, vars) {
		t.Error("a failing template does not hash stably apart")
	}
	// Only templates are resolved.
	r := &fakeResolver{vars: vars}
	New(r).Plan(testPlan())
	if r.expands != 1 {
		t.Errorf("%d templates resolved, want 1", r.expands)
	}
}

// filesEnv is a project directory with an env file, a bind-mounted tree
// and a secret file, and its plan.
func filesEnv(t *testing.T) (string, *composeplan.Plan) {
	dir := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(".env", "A=1\n")
	write("init/01.sql", "create table t(id int);\n")
	write("init/sub/02.sql", "insert into t values (1);\n")
	write("secret.txt", "s3cret\n")
	return dir, &composeplan.Plan{
		EnvFiles: []composeplan.EnvFile{{Path: ".env"}},
		Services: []composeplan.ServiceSpec{{
			Name:   "db",
			Mounts: []composeplan.MountSpec{{Type: "bind", Source: "${INIT}", Target: "/init"}, {Type: "volume", Source: "data", Target: "/data"}},
		}},
		Secrets: []composeplan.FileSpec{{Name: "s", File: "secret.txt"}},
	}
}

func filesSum(plan *composeplan.Plan, dir string) string {
	k := New(&fakeResolver{vars: map[string]string{"INIT": "./init"}})
	k.Files(plan, dir)
	return k.Sum()
}

// The files a plan reads are hashed by content: each change changes the
// hash, and nothing else does.
func TestFiles(t *testing.T) {
	dir, plan := filesEnv(t)
	base := filesSum(plan, dir)
	if filesSum(plan, dir) != base {
		t.Fatal("the same files hashed otherwise")
	}
	if err := os.WriteFile(filepath.Join(dir, "unread.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if filesSum(plan, dir) != base {
		t.Error("a file the plan does not read changed the hash")
	}
	for _, f := range []string{".env", "init/sub/02.sql", "secret.txt"} {
		dir, plan := filesEnv(t)
		ref := filesSum(plan, dir)
		if err := os.WriteFile(filepath.Join(dir, f), []byte("changed\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if filesSum(plan, dir) == ref {
			t.Errorf("changing %s did not change the hash", f)
		}
	}
	dir, plan = filesEnv(t)
	ref := filesSum(plan, dir)
	if err := os.Remove(filepath.Join(dir, "secret.txt")); err != nil {
		t.Fatal(err)
	}
	if filesSum(plan, dir) == ref {
		t.Error("a missing file hashed as a present one")
	}
}

// Big trees are hashed up to a budget, then by size and time, and the hash
// still changes when a file beyond the budget grows.
func TestFilesBudget(t *testing.T) {
	oldEntries, oldBytes := maxEntries, maxBytes
	maxEntries, maxBytes = 1000, 10
	t.Cleanup(func() { maxEntries, maxBytes = oldEntries, oldBytes })
	dir, plan := filesEnv(t)
	base := filesSum(plan, dir)
	if err := os.WriteFile(filepath.Join(dir, "init/01.sql"), []byte("create table t(id int, x int);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if filesSum(plan, dir) == base {
		t.Error("a file hashed by its size did not change the hash when it grew")
	}
	// Past the entries of the budget, the rest of a tree is not read.
	maxEntries = 1
	dir, plan = filesEnv(t)
	base = filesSum(plan, dir)
	if err := os.WriteFile(filepath.Join(dir, "init/sub/02.sql"), []byte("changed, longer than before\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if filesSum(plan, dir) != base {
		t.Error("a file beyond the budget of entries changed the hash")
	}
}
