// Package sharekey hashes what a shared stack is started from into the key
// by which the processes of a run find it: a SHA-256 over a sequence of
// values, each length-prefixed so that no two sequences hash alike, with
// the plan's templates interpolated as the start resolves them (through a
// Resolver) and the files the plan reads from this machine (env files,
// bind mounts, secret and config files) hashed by content up to a budget,
// beyond it by size and modification time. Only the hash is ever written
// anywhere, so no value, secret or not, can be read back from a key. It
// decides nothing about what goes into a key (runtime's computeKeys does:
// which options, image ids, the run) and talks to no engine; a change to
// the bytes it writes changes every key, and so every kept stack's.
package sharekey

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/composegen/composegen/runtime/composeplan"
)

// The budget of the files of one key: each tree up to maxEntries entries,
// and maxBytes of content in all; beyond that, sizes and modification
// times.
var (
	maxEntries       = 20000
	maxBytes   int64 = 64 << 20
)

// A Resolver resolves the templates of a plan, and the values of its bare
// "- NAME" environment entries, as the start does.
type Resolver interface {
	// Expand resolves one template; field names it in errors.
	Expand(field, s string) (string, error)
	// Lookup returns the value of a variable.
	Lookup(name string) (string, bool)
}

// A Hasher writes values to a hash, each length-prefixed so that no two
// sequences of values write the same bytes.
type Hasher struct {
	h       hash.Hash
	res     Resolver
	entries int
	bytes   int64
}

// New returns a Hasher that resolves templates with res. A Hasher that
// only writes strings (Str, Strs) needs none: res may be nil.
func New(res Resolver) *Hasher { return &Hasher{h: sha256.New(), res: res} }

// Sum returns the hash of what was written, hex-encoded.
func (k *Hasher) Sum() string { return hex.EncodeToString(k.h.Sum(nil)) }

// Str writes s.
func (k *Hasher) Str(s string) {
	var n [binary.MaxVarintLen64]byte
	k.h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
	io.WriteString(k.h, s)
}

// Strs writes a list: its length, then each string.
func (k *Hasher) Strs(list []string) {
	k.Str(strconv.Itoa(len(list)))
	for _, s := range list {
		k.Str(s)
	}
}

// Plan writes the plan, every string interpolated and each bare "- NAME"
// environment entry with its value.
func (k *Hasher) Plan(plan *composeplan.Plan) {
	k.value(reflect.ValueOf(plan).Elem())
}

var envVarType = reflect.TypeOf(composeplan.EnvVar{})

// value writes a value of the plan with every string interpolated.
func (k *Hasher) value(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		if !strings.Contains(s, "$") {
			k.Str(s)
			return
		}
		x, err := k.res.Expand("", s)
		if err != nil {
			// The start fails the same way; the key only has to be
			// stable.
			k.Str("!" + s)
			return
		}
		k.Str("=" + x)
	case reflect.Bool:
		k.Str(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		k.Str(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		k.Str(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		k.Str(strconv.FormatFloat(v.Float(), 'g', -1, 64))
	case reflect.Pointer:
		if v.IsNil() {
			k.Str("nil")
			return
		}
		k.Str("&")
		k.value(v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			k.Str("nil")
			return
		}
		k.Str("[" + strconv.Itoa(v.Len()))
		for i := 0; i < v.Len(); i++ {
			k.value(v.Index(i))
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		k.Str("{" + strconv.Itoa(len(keys)))
		for _, key := range keys {
			k.Str(key.String())
			k.value(v.MapIndex(key))
		}
	case reflect.Struct:
		if v.Type() == envVarType && v.FieldByName("FromEnv").Bool() {
			name := v.FieldByName("Name").String()
			val, ok := k.res.Lookup(name)
			k.Str(name)
			k.Str(fmt.Sprintf("from env %t=%s", ok, val))
			return
		}
		k.Str(v.Type().Name())
		for i := 0; i < v.NumField(); i++ {
			k.Str(v.Type().Field(i).Name)
			k.value(v.Field(i))
		}
	default:
		k.Str(v.Kind().String())
	}
}

// Files writes the contents of the files the plan reads from this machine:
// its env files, the bind-mounted files and trees of its services, its
// secret and config files. dir is the plan's directory, against which
// relative paths resolve.
func (k *Hasher) Files(plan *composeplan.Plan, dir string) {
	rel := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, filepath.FromSlash(p))
	}
	for _, f := range plan.EnvFiles {
		k.path(rel(f.Path))
	}
	for i := range plan.Services {
		sp := &plan.Services[i]
		for _, f := range sp.EnvFiles {
			k.path(rel(f.Path))
		}
		for _, m := range sp.Mounts {
			if m.Type != "bind" {
				continue
			}
			src, err := k.res.Expand("source", m.Source)
			if err != nil {
				continue
			}
			if strings.HasPrefix(src, "~/") {
				home, _ := os.UserHomeDir()
				src = filepath.Join(home, src[2:])
			}
			k.path(rel(src))
		}
	}
	for _, list := range [][]composeplan.FileSpec{plan.Secrets, plan.Configs} {
		for _, f := range list {
			if f.File == "" {
				continue
			}
			if p, err := k.res.Expand("file", f.File); err == nil {
				k.path(rel(p))
			}
		}
	}
}

// path writes a file or a directory tree: names, modes, symlink targets
// and contents (sizes and modification times beyond the budget).
func (k *Hasher) path(p string) {
	k.Str(p)
	fi, err := os.Stat(p)
	if err != nil {
		k.Str("missing")
		return
	}
	if !fi.IsDir() {
		k.file(p, fi)
		return
	}
	_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			k.Str("error " + q)
			return nil
		}
		k.entries++
		if k.entries > maxEntries {
			k.Str("truncated")
			return filepath.SkipAll
		}
		r, _ := filepath.Rel(p, q)
		k.Str(r)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			t, _ := os.Readlink(q)
			k.Str("-> " + t)
		case d.Type().IsRegular():
			if fi, err := d.Info(); err == nil {
				k.file(q, fi)
			}
		default:
			k.Str(d.Type().String())
		}
		return nil
	})
}

func (k *Hasher) file(p string, fi fs.FileInfo) {
	k.Str(fi.Mode().String())
	if !fi.Mode().IsRegular() {
		return
	}
	if k.bytes+fi.Size() > maxBytes {
		k.Str(fmt.Sprintf("size %d mtime %d", fi.Size(), fi.ModTime().UnixNano()))
		return
	}
	f, err := os.Open(p)
	if err != nil {
		k.Str("unreadable")
		return
	}
	defer f.Close()
	h := sha256.New()
	n, _ := io.Copy(h, io.LimitReader(f, fi.Size()))
	k.bytes += n
	k.Str(hex.EncodeToString(h.Sum(nil)))
}
