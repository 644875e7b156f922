package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/lock"
	"github.com/composegen/composegen/runtime/internal/owner"
)

// Secrets and configs from environment: or content: are written to files
// that the container gets as read-only bind mounts, as are copies of file
// secrets that need another mode or owner. They live in one directory per
// stack, mode 0700 and owned by this process (the container still reads the
// mounted file itself), named composegen-<pid>-*, with the owner's identity
// in owner.json: Down removes it, and the reaper removes those of dead
// owners.
const tmpPrefix = "composegen-"

// privateDir returns the stack's 0700 directory, created on first use.
//
// A stack kept for reuse outlives the process that started it, so its
// directory is composegen-kept-<project>, which the reaper leaves alone;
// Prune removes it with the stack.
func (s *Stack) privateDir() (string, error) {
	s.tmpOnce.Do(func() {
		kept := s.cfg.reuse && s.cfg.labels != nil
		var dir string
		var err error
		if kept {
			dir = keptDir(s.project)
			err = lock.EnsurePrivateDir(dir)
		} else {
			dir, err = os.MkdirTemp("", tmpPrefix+strconv.Itoa(s.owner.Pid)+"-")
		}
		if err != nil {
			s.tmpErr = err
			return
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			s.tmpErr = err
			return
		}
		b, _ := json.Marshal(struct {
			Owner   owner.ID
			Project string
			Kept    bool `json:",omitempty"`
		}{s.owner, s.project, kept})
		if err := os.WriteFile(filepath.Join(dir, "owner.json"), b, 0o600); err != nil {
			s.tmpErr = err
			return
		}
		s.tmpDir = dir
	})
	return s.tmpDir, s.tmpErr
}

// writePrivate writes content to a new file of the stack's private
// directory with mode perm.
func (s *Stack) writePrivate(kind string, content []byte, perm os.FileMode) (string, error) {
	dir, err := s.privateDir()
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, kind+"-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), perm)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// fileMounts mounts secrets (at /run/secrets/NAME) and configs (at their
// target, default /NAME), read-only.
func (r *replica) fileMounts(c *engine.ContainerSpec) error {
	st := r.stack
	for _, ref := range r.spec.Secrets {
		m, err := r.fileMount("secret", ref, findFile(st.plan.Secrets, ref.Source), "/run/secrets/"+ref.Source)
		if err != nil {
			return err
		}
		c.Mounts = append(c.Mounts, m)
	}
	for _, ref := range r.spec.Configs {
		m, err := r.fileMount("config", ref, findFile(st.plan.Configs, ref.Source), "/"+ref.Source)
		if err != nil {
			return err
		}
		c.Mounts = append(c.Mounts, m)
	}
	return nil
}

func findFile(list []composeplan.FileSpec, name string) *composeplan.FileSpec {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

func (r *replica) fileMount(kind string, ref composeplan.FileRef, spec *composeplan.FileSpec, defTarget string) (engine.Mount, error) {
	st := r.stack
	if spec == nil {
		return engine.Mount{}, fmt.Errorf("%s %q is not declared at the top level", kind, ref.Source)
	}
	target, err := st.res.Expand(kind+"s.target", ref.Target)
	if err != nil {
		return engine.Mount{}, err
	}
	switch {
	case target == "":
		target = defTarget
	case kind == "secret" && !strings.HasPrefix(target, "/"):
		target = "/run/secrets/" + target
	}
	var src string
	var content []byte
	switch {
	case spec.File != "":
		p, err := st.res.Expand(kind+"s."+spec.Name+".file", spec.File)
		if err != nil {
			return engine.Mount{}, err
		}
		src = p
		if !filepath.IsAbs(p) {
			src = filepath.Join(st.dir, filepath.FromSlash(p))
		}
		if _, err := os.Stat(src); err != nil {
			return engine.Mount{}, fmt.Errorf("%s %q: %w", kind, spec.Name, err)
		}
	case spec.Environment != "":
		v, _ := st.res.Lookup(spec.Environment)
		st.mask.Add(v)
		content = []byte(v)
	case spec.Content != "":
		v, err := st.res.Expand(kind+"s."+spec.Name+".content", spec.Content)
		if err != nil {
			return engine.Mount{}, err
		}
		if kind == "secret" {
			st.mask.Add(v)
		}
		content = []byte(v)
	default:
		return engine.Mount{}, fmt.Errorf("%s %q: only file, environment and content sources are supported (external secrets need a swarm)", kind, spec.Name)
	}
	needCopy := ref.Mode != nil || ref.UID != "" || ref.GID != ""
	if src != "" && needCopy {
		if content, err = os.ReadFile(src); err != nil {
			return engine.Mount{}, fmt.Errorf("%s %q: %w", kind, spec.Name, err)
		}
	}
	if content != nil {
		if src, err = r.ownedFile(kind, content, ref); err != nil {
			return engine.Mount{}, fmt.Errorf("%s %q: %w", kind, spec.Name, err)
		}
	}
	return engine.Mount{Type: "bind", Source: src, Target: target, ReadOnly: true}, nil
}

// ownedFile writes content to a private file with the mode, uid and gid
// that ref asks for (default 0444, and this process's owner), so that the
// bind mount shows them in the container (the engine does not remap bind
// mounts). Setting another uid or gid needs the test process to be allowed
// to chown (root).
func (r *replica) ownedFile(kind string, content []byte, ref composeplan.FileRef) (string, error) {
	res := r.stack.res
	mode := os.FileMode(0o444)
	if ref.Mode != nil {
		mode = os.FileMode(*ref.Mode) & os.ModePerm
	}
	id := func(field, v string) (int, error) {
		v, err := res.Expand(field, v)
		if err != nil || v == "" {
			return -1, err
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return -1, fmt.Errorf("%s %q is not a numeric id", field, v)
		}
		return n, nil
	}
	uid, err := id("uid", ref.UID)
	if err != nil {
		return "", err
	}
	gid, err := id("gid", ref.GID)
	if err != nil {
		return "", err
	}
	name, err := r.stack.writePrivate(kind, content, mode)
	if err != nil {
		return "", err
	}
	if uid >= 0 || gid >= 0 {
		if err := os.Chown(name, uid, gid); err != nil {
			return "", fmt.Errorf("uid/gid: %w (setting a file's owner needs the tests to run as root)", err)
		}
	}
	return name, nil
}

// keptDir is the private directory of a stack kept for reuse.
func keptDir(project string) string {
	return filepath.Join(os.TempDir(), tmpPrefix+"kept-"+project)
}

// removeKeptDir removes the private directory of a kept stack that is
// gone.
func removeKeptDir(project string) {
	if project != "" {
		_ = os.RemoveAll(keptDir(project))
	}
}

// removePrivate removes the stack's private directory.
func (s *Stack) removePrivate() {
	if s.tmpDir != "" {
		_ = os.RemoveAll(s.tmpDir)
	}
}

// reapPrivateDirs removes the private directories that dead owners left.
func reapPrivateDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), tmpPrefix+"*"))
	for _, dir := range matches {
		b, err := os.ReadFile(filepath.Join(dir, "owner.json"))
		if err != nil {
			continue
		}
		var rec struct {
			Owner owner.ID
			Kept  bool
		}
		if json.Unmarshal(b, &rec) != nil || rec.Owner.Pid <= 0 || rec.Kept {
			continue
		}
		if owner.Judge(rec.Owner) == owner.Dead {
			_ = os.RemoveAll(dir)
		}
	}
}
