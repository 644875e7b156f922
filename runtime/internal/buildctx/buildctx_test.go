package buildctx

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/patternmatcher/ignorefile"
	"github.com/ory/dockertest/v3/docker/pkg/archive"
)

// write creates files (slash paths → contents) under dir.
func write(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func digest(t testing.TB, dir, dockerfile string) string {
	t.Helper()
	forget()
	c, err := Open(dir, dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// forget empties the memo of file hashes, so that a test sees what a new
// process would.
func forget() { sums = sync.Map{} }

// tarNames lists the regular files and symlinks of the context's tar
// stream.
func tarNames(t *testing.T, c *Context) map[string]string {
	t.Helper()
	var buf bytes.Buffer
	if err := c.WriteTar(&buf); err != nil {
		t.Fatal(err)
	}
	return readTar(t, &buf)
}

func readTar(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			b, _ := io.ReadAll(tr)
			out[strings.TrimPrefix(h.Name, "./")] = string(b)
		case tar.TypeSymlink:
			out[strings.TrimPrefix(h.Name, "./")] = "-> " + h.Linkname
		}
	}
}

const ignore = `# build output and VCS
.git
ignored
**/*.log
!keep.log
/secret.env
sub/tmp*
`

func ignoreContext(t *testing.T) string {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		".dockerignore":      ignore,
		"Dockerfile":         "FROM busybox\nCOPY . /app\n",
		"index.html":         "<h1>one</h1>\n",
		"keep.log":           "kept\n",
		"debug.log":          "noise\n",
		"sub/deep.log":       "noise\n",
		"sub/page.html":      "page\n",
		"sub/tmp-cache":      "noise\n",
		"secret.env":         "TOKEN=x\n",
		"ignored/big.bin":    "noise\n",
		".git/HEAD":          "ref: refs/heads/main\n",
		".git/objects/ab/cd": "blob\n",
	})
	return dir
}

// The files sent are those the previous sender (dockertest's archive, the
// docker CLI's rules) sent, and the digest changes with them and only them.
func TestDockerignore(t *testing.T) {
	dir := ignoreContext(t)
	c, err := Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	got := tarNames(t, c)
	want := []string{".dockerignore", "Dockerfile", "index.html", "keep.log", "sub/page.html"}
	if names := keys(got); !slices.Equal(names, want) {
		t.Errorf("sent %v, want %v", names, want)
	}

	// The same set as dockertest's archive with the same patterns, which
	// is what the engine received before buildctx.
	patterns, err := ignorefile.ReadAll(strings.NewReader(ignore))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := archive.TarWithOptions(dir, &archive.TarOptions{ExcludePatterns: patterns, IncludeFiles: []string{".", ".dockerignore", "Dockerfile"}})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if old := keys(readTar(t, rc)); !slices.Equal(old, want) {
		t.Errorf("dockertest's archive sends %v, buildctx %v", old, want)
	}

	base := digest(t, dir, "")
	for _, f := range []string{"debug.log", "sub/deep.log", "sub/tmp-cache", "secret.env", "ignored/big.bin", ".git/HEAD", "ignored/new.txt", ".git/objects/ef/gh"} {
		write(t, dir, map[string]string{f: "changed\n"})
		if d := digest(t, dir, ""); d != base {
			t.Errorf("editing ignored %s changed the digest", f)
		}
	}
	for _, f := range []string{"index.html", "keep.log", "sub/page.html", "Dockerfile", ".dockerignore", "new.txt"} {
		t.Run(f, func(t *testing.T) {
			dir := ignoreContext(t)
			base := digest(t, dir, "")
			p := filepath.Join(dir, filepath.FromSlash(f))
			b, _ := os.ReadFile(p)
			write(t, dir, map[string]string{f: string(b) + "# changed\n"})
			if d := digest(t, dir, ""); d == base {
				t.Errorf("editing %s left the digest unchanged", f)
			}
		})
	}
}

// A Dockerfile that .dockerignore excludes is still sent (the engine needs
// it and drops it from what COPY sees), and still counts.
func TestDockerfileIgnoredStillSent(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		".dockerignore":          "build\n*.dockerfile\n",
		"build/app.dockerfile":   "FROM busybox\n",
		"build/other.dockerfile": "FROM busybox\n",
		"main.go":                "package main\n",
	})
	c, err := Open(dir, "build/app.dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(tarNames(t, c)), []string{".dockerignore", "build/app.dockerfile", "main.go"}; !slices.Equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
	if c.Dockerfile() != "build/app.dockerfile" {
		t.Errorf("Dockerfile() = %q", c.Dockerfile())
	}
	base := digest(t, dir, "build/app.dockerfile")
	write(t, dir, map[string]string{"build/other.dockerfile": "FROM alpine\n"})
	if digest(t, dir, "build/app.dockerfile") != base {
		t.Error("editing another ignored Dockerfile changed the digest")
	}
	write(t, dir, map[string]string{"build/app.dockerfile": "FROM alpine\n"})
	if digest(t, dir, "build/app.dockerfile") == base {
		t.Error("editing the ignored Dockerfile in use left the digest unchanged")
	}
}

// A Dockerfile outside the context is sent under a name of its own that
// .dockerignore names (the engine drops it before COPY), and counts.
func TestDockerfileOutsideContext(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"docker/App.dockerfile": "FROM busybox\nCOPY . /app\n",
		"app/index.html":        "one\n",
		"app/.dockerignore":     "*.tmp\n",
	})
	ctx := filepath.Join(root, "app")
	for _, df := range []string{"../docker/App.dockerfile", filepath.Join(root, "docker/App.dockerfile")} {
		c, err := Open(ctx, df)
		if err != nil {
			t.Fatal(err)
		}
		name := c.Dockerfile()
		if !strings.HasPrefix(name, ".dockerfile.composegen-") {
			t.Fatalf("Dockerfile() = %q, want a name of its own", name)
		}
		got := tarNames(t, c)
		if got[name] != "FROM busybox\nCOPY . /app\n" {
			t.Errorf("the outside Dockerfile is not sent as %s: %v", name, got)
		}
		if ig := got[".dockerignore"]; !strings.HasPrefix(ig, "*.tmp\n") || !strings.Contains(ig, "\n"+name+"\n") {
			t.Errorf(".dockerignore sent = %q, want the original patterns and %s", ig, name)
		}
	}
	base := digest(t, ctx, "../docker/App.dockerfile")
	write(t, root, map[string]string{"docker/App.dockerfile": "FROM busybox\nCOPY . /srv\n"})
	if digest(t, ctx, "../docker/App.dockerfile") == base {
		t.Error("editing the Dockerfile outside the context left the digest unchanged")
	}

	// Without .dockerignore, one is sent that names the Dockerfile.
	bare := t.TempDir()
	write(t, bare, map[string]string{"a.txt": "a\n"})
	c, err := Open(bare, filepath.Join(root, "docker/App.dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	got := tarNames(t, c)
	if got[".dockerignore"] != "\n"+c.Dockerfile()+"\n" || got["a.txt"] != "a\n" {
		t.Errorf("sent %v", got)
	}
}

// Permission bits and symlink targets count; modification times and the
// order in which files were created do not.
func TestDigestModesLinksOrder(t *testing.T) {
	files := map[string]string{"Dockerfile": "FROM busybox\n", "run.sh": "echo hi\n", "a/b/c.txt": "c\n", "z.txt": "z\n"}
	one, two := t.TempDir(), t.TempDir()
	names := keys(files)
	for _, n := range names {
		write(t, one, map[string]string{n: files[n]})
	}
	time.Sleep(10 * time.Millisecond)
	for i := len(names) - 1; i >= 0; i-- {
		write(t, two, map[string]string{names[i]: files[names[i]]})
	}
	if digest(t, one, "") != digest(t, two, "") {
		t.Fatal("the same files created in another order have another digest")
	}
	base := digest(t, one, "")
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(one, "run.sh"), old, old); err != nil {
		t.Fatal(err)
	}
	if digest(t, one, "") != base {
		t.Error("a modification time changed the digest")
	}
	if err := os.Chmod(filepath.Join(one, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if digest(t, one, "") == base {
		t.Error("chmod +x left the digest unchanged")
	}
	if err := os.Chmod(filepath.Join(one, "run.sh"), 0o644); err != nil {
		t.Fatal(err)
	}
	if digest(t, one, "") != base {
		t.Error("chmod back did not restore the digest")
	}
	if err := os.Symlink("z.txt", filepath.Join(one, "link")); err != nil {
		t.Fatal(err)
	}
	withLink := digest(t, one, "")
	if withLink == base {
		t.Error("a new symlink left the digest unchanged")
	}
	_ = os.Remove(filepath.Join(one, "link"))
	if err := os.Symlink("run.sh", filepath.Join(one, "link")); err != nil {
		t.Fatal(err)
	}
	if digest(t, one, "") == withLink {
		t.Error("another symlink target left the digest unchanged")
	}
	// Moving content between files changes it (paths and contents are
	// framed).
	write(t, two, map[string]string{"z.txt": "", "run.sh": "echo hi\nz\n"})
	if digest(t, two, "") == base {
		t.Error("moving content between files left the digest unchanged")
	}
}

// The memo of file hashes never hides an edit, even one that keeps the
// size and the modification time.
func TestDigestMemoSeesEdits(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"Dockerfile": "FROM busybox\n", "f.txt": "aaaa\n"})
	old := time.Now().Add(-time.Hour)
	p := filepath.Join(dir, "f.txt")
	_ = os.Chtimes(p, old, old)
	forget()
	c, _ := Open(dir, "")
	first, err := c.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("bbbb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(p, old, old) // same size, same mtime: the ctime differs
	second, _ := c.Digest()
	if second == first {
		t.Error("an edit that kept size and mtime was hidden by the memo")
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "nope"), ""); err == nil || !strings.Contains(err.Error(), "build context") {
		t.Errorf("missing context: %v", err)
	}
	dir := t.TempDir()
	if _, err := Open(dir, "../missing.dockerfile"); err == nil || !strings.Contains(err.Error(), "missing.dockerfile") {
		t.Errorf("missing outside Dockerfile: %v", err)
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// bigContext makes a context of n files of about 2 KiB in 50 directories,
// with a .git directory of n more that .dockerignore excludes.
func bigContext(b testing.TB, n int) string {
	dir := b.TempDir()
	files := map[string]string{".dockerignore": ".git\nnode_modules\n", "Dockerfile": "FROM busybox\nCOPY . /app\n"}
	body := strings.Repeat("x", 2000)
	for i := 0; i < n; i++ {
		files[fmt.Sprintf("src/d%02d/f%05d.txt", i%50, i)] = fmt.Sprintf("%d %s", i, body)
		files[fmt.Sprintf(".git/objects/%02d/o%05d", i%50, i)] = body
	}
	write(b, dir, files)
	return dir
}

// BenchmarkDigest measures the digest of a context of 3000 files (6 MB),
// with .git excluded: cold, as in a new process, and warm (memoized).
func BenchmarkDigest(b *testing.B) {
	dir := bigContext(b, 3000)
	old := time.Now().Add(-time.Minute)
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			_ = os.Chtimes(p, old, old)
		}
		return nil
	})
	for _, warm := range []bool{false, true} {
		b.Run(map[bool]string{false: "cold", true: "warm"}[warm], func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if !warm {
					forget()
				}
				c, err := Open(dir, "")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Digest(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
