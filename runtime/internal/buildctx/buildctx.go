// Package buildctx is a build context as the engine receives it: the files
// of a directory that its .dockerignore does not exclude (with the docker
// CLI's rules, moby/patternmatcher's, including "!" exceptions), plus the
// Dockerfile, wherever it lives.
//
// The same walk feeds both the tar stream sent to the engine (WriteTar) and
// the content digest that identifies a built image (Digest), so that the
// digest covers exactly the files the engine receives: a file that
// .dockerignore excludes changes neither.
package buildctx

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Context is a build context directory and its Dockerfile.
type Context struct {
	dir string
	pm  *patternmatcher.PatternMatcher
	// ignore is the .dockerignore's content (nil when there is none).
	ignore []byte
	// dockerfile is the Dockerfile's slash path in the context when it
	// lives there ("" otherwise).
	dockerfile string
	// outside is the content of a Dockerfile that lives outside the
	// context, sent under the name outsideName.
	outside     []byte
	outsideName string
}

// Open reads the context dir (an absolute directory) and its .dockerignore;
// dockerfile is the Dockerfile's path as compose gives it: "" for
// "Dockerfile", relative to dir, or absolute. A Dockerfile outside dir is
// read now and sent with the context under a name of its own, as the
// docker CLI does.
func Open(dir, dockerfile string) (*Context, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("build context %s is not a directory", dir)
	}
	c := &Context{dir: dir}
	var patterns []string
	if b, err := os.ReadFile(filepath.Join(dir, ".dockerignore")); err == nil {
		c.ignore = b
		if patterns, err = ignorefile.ReadAll(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ".dockerignore"), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("build context: %w", err)
	}
	if c.pm, err = patternmatcher.New(patterns); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ".dockerignore"), err)
	}
	if dockerfile == "" {
		dockerfile = "Dockerfile"
		if _, err := os.Stat(filepath.Join(dir, dockerfile)); err != nil {
			if _, err := os.Stat(filepath.Join(dir, "dockerfile")); err == nil {
				dockerfile = "dockerfile" // the docker CLI's fallback
			}
		}
	}
	abs := dockerfile
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(dir, filepath.FromSlash(dockerfile))
	}
	rel, err := filepath.Rel(dir, abs)
	if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		c.dockerfile = filepath.ToSlash(rel)
		return c, nil
	}
	if c.outside, err = os.ReadFile(abs); err != nil {
		return nil, fmt.Errorf("dockerfile: %w", err)
	}
	sum := sha256.Sum256(c.outside)
	c.outsideName = ".dockerfile.composegen-" + hex.EncodeToString(sum[:10])
	return c, nil
}

// Dockerfile is the Dockerfile's name in the tar stream of WriteTar.
func (c *Context) Dockerfile() string {
	if c.outsideName != "" {
		return c.outsideName
	}
	return c.dockerfile
}

// entry is one file of the context.
type entry struct {
	rel  string // slash path in the context
	abs  string
	info fs.FileInfo
	link string // a symlink's target
}

// walk calls fn for each file, directory and symlink the engine receives,
// in lexical order: the walk of the docker CLI's archive (TarWithOptions)
// with .dockerignore's patterns, then .dockerignore and the Dockerfile,
// which are always sent (the engine drops them afterwards when they are
// excluded). Sockets, pipes and devices are skipped.
func (c *Context) walk(fn func(e entry) error) error {
	type parent struct {
		dir  string
		info patternmatcher.MatchInfo
	}
	var parents []parent
	seen := map[string]bool{}
	err := filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		if p == c.dir {
			return nil
		}
		rel, err := filepath.Rel(c.dir, p)
		if err != nil {
			return err
		}
		for len(parents) > 0 && !strings.HasPrefix(rel, parents[len(parents)-1].dir+string(filepath.Separator)) {
			parents = parents[:len(parents)-1]
		}
		var pinfo patternmatcher.MatchInfo
		if len(parents) > 0 {
			pinfo = parents[len(parents)-1].info
		}
		skip, info, err := c.pm.MatchesUsingParentResults(rel, pinfo)
		if err != nil {
			return fmt.Errorf("build context: .dockerignore: %w", err)
		}
		if d.IsDir() {
			parents = append(parents, parent{rel, info})
		}
		if skip {
			if !d.IsDir() {
				return nil
			}
			if !c.pm.Exclusions() {
				return filepath.SkipDir
			}
			// An exception ("!dir/file") inside the directory keeps
			// it walked.
			slashed := rel + string(filepath.Separator)
			for _, pat := range c.pm.Patterns() {
				if pat.Exclusion() && strings.HasPrefix(pat.String()+string(filepath.Separator), slashed) {
					return nil
				}
			}
			return filepath.SkipDir
		}
		seen[rel] = true
		return c.visit(p, filepath.ToSlash(rel), fn)
	})
	if err != nil {
		return err
	}
	for _, f := range []string{".dockerignore", c.dockerfile} {
		if f == "" || seen[filepath.FromSlash(f)] {
			continue
		}
		p := filepath.Join(c.dir, filepath.FromSlash(f))
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if err := c.visit(p, f, fn); err != nil {
			return err
		}
	}
	return nil
}

func (c *Context) visit(p, rel string, fn func(e entry) error) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	e := entry{rel: rel, abs: p, info: fi}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		if e.link, err = os.Readlink(p); err != nil {
			return fmt.Errorf("build context: %w", err)
		}
	case fi.IsDir(), fi.Mode().IsRegular():
	default:
		return nil
	}
	return fn(e)
}

// Digest returns a SHA-256 (hex) of the context as the engine receives it:
// each entry's path, type and permission bits, a symlink's target, a
// file's content, and a Dockerfile from outside the context. Modification
// times, owners and the order in which files were created are not part of
// it.
func (c *Context) Digest() (string, error) {
	h := sha256.New()
	put(h, "composegen build context v1")
	err := c.walk(func(e entry) error {
		put(h, e.rel)
		put(h, e.info.Mode().Type().String()+e.info.Mode().Perm().String()+modeExtra(e.info.Mode()))
		switch {
		case e.link != "":
			put(h, e.link)
		case e.info.Mode().IsRegular():
			sum, err := fileSum(e.abs, e.info)
			if err != nil {
				return err
			}
			h.Write(sum[:])
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	put(h, "dockerfile")
	put(h, c.dockerfile)
	if c.outsideName != "" {
		put(h, "outside")
		put(h, string(c.outside))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func modeExtra(m fs.FileMode) string {
	var s string
	if m&fs.ModeSetuid != 0 {
		s += "u"
	}
	if m&fs.ModeSetgid != 0 {
		s += "g"
	}
	if m&fs.ModeSticky != 0 {
		s += "t"
	}
	return s
}

// put writes s length-prefixed, so that no two sequences of strings write
// the same bytes.
func put(h hash.Hash, s string) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
	io.WriteString(h, s)
}

// sums memoizes the content hashes of files that did not change since
// they were hashed (same inode, size, modification and change times), so
// that a process that starts a stack many times reads each file of a
// context once. Files modified in the last two seconds are not memoized:
// a write within the timestamps' granularity could go unseen.
var sums sync.Map // fileKey → [32]byte

type fileKey struct {
	path                string
	dev, ino            uint64
	size, mtime, ctimes int64
}

func fileSum(p string, fi fs.FileInfo) ([32]byte, error) {
	key, ok := statKey(p, fi)
	if ok {
		if v, found := sums.Load(key); found {
			return v.([32]byte), nil
		}
	}
	f, err := os.Open(p)
	if err != nil {
		return [32]byte{}, fmt.Errorf("build context: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return [32]byte{}, fmt.Errorf("build context: %w", err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	if ok && time.Since(fi.ModTime()) > 2*time.Second {
		sums.Store(key, sum)
	}
	return sum, nil
}

// WriteTar writes the context as the engine receives it, an uncompressed
// tar stream: the entries of Digest with their modification times and, for
// a Dockerfile from outside the context, that Dockerfile under the name
// Dockerfile returns and a .dockerignore that names it (the engine then
// leaves it out of the files COPY sees), as the docker CLI does.
func (c *Context) WriteTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	ignoreSent := false
	err := c.walk(func(e entry) error {
		hdr, err := tar.FileInfoHeader(e.info, e.link)
		if err != nil {
			return fmt.Errorf("build context: %s: %w", e.rel, err)
		}
		hdr.Name = e.rel
		if e.info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		hdr.Format = tar.FormatPAX
		if e.rel == ".dockerignore" && c.outsideName != "" {
			ignoreSent = true
			b := c.ignoreWithOutside()
			hdr.Size = int64(len(b))
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			_, err := tw.Write(b)
			return err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !e.info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(e.abs)
		if err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		defer f.Close()
		// A file that grows while it is sent is cut at the header's size;
		// one that shrinks fails the write.
		if _, err := io.Copy(tw, io.LimitReader(f, hdr.Size)); err != nil {
			return fmt.Errorf("build context: %s: %w", e.rel, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if c.outsideName != "" {
		now := time.Now()
		if !ignoreSent {
			b := c.ignoreWithOutside()
			if err := tw.WriteHeader(&tar.Header{Name: ".dockerignore", Mode: 0o644, Size: int64(len(b)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
				return err
			}
			if _, err := tw.Write(b); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: c.outsideName, Mode: 0o600, Size: int64(len(c.outside)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(c.outside); err != nil {
			return err
		}
	}
	return tw.Close()
}

func (c *Context) ignoreWithOutside() []byte {
	b := append([]byte(nil), c.ignore...)
	return append(b, []byte("\n"+c.outsideName+"\n")...)
}
