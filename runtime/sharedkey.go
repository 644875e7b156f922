package runtime

import (
	"context"
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
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/engines"
	"github.com/composegen/composegen/runtime/internal/interp"
)

// A shared stack is found by its key, a SHA-256 over everything the stack
// was started from, resolved as the start resolves it:
//
//   - the plan, every template interpolated with the values the start would
//     use (options, the process environment, the project's env files), and
//     the values of bare "- NAME" environment entries;
//   - the contents of env files, of bind-mounted files and directories and
//     of secret and config files (each tree up to keyMaxEntries entries
//     and keyMaxBytes of content in all; beyond that, sizes and
//     modification times);
//   - the id of each service's local image (a re-pulled or rebuilt image
//     makes a new stack); for a service with a build section, its build
//     hash (see build.go: what the engine receives of the context, the
//     Dockerfile, target, args, platform) and the id of the image built
//     for that hash, built first when needed (with WithBuild, once per
//     go test run), so that an edited context never attaches to a stack
//     that runs the image of the old one;
//   - the options that change what runs: profiles, services (only those
//     outside the active profiles: see sharedWant), scale, fixed
//     ports, reuse, the engine and its endpoint, the project directory
//     (not WithBuild: a forced build that makes another image changes the
//     image's id, and so the key, and one that makes the same image does
//     not need another stack);
//   - for a stack that is not reused, the go test run it belongs to.
//
// Only the hash is ever written anywhere (labels, file names): no value,
// secret or not, can be read back from it.
//
// The origin is the same hash without the contents: the plan's name and
// directory and the options. Two kept stacks of the same origin are two
// versions of one stack, and the older goes when the newer starts.
var (
	keyMaxEntries       = 20000
	keyMaxBytes   int64 = 64 << 20
)

// sharedKeys are the key and origin of a shared stack, hex-encoded.
type sharedKeys struct {
	key, origin string
}

// computeKeys computes the key and origin of the shared stack of plan with
// cfg. dir is the plan's directory; scope identifies the go test run ("" for
// a reused stack).
func computeKeys(ctx context.Context, eng engine.Engine, plan *composeplan.Plan, cfg config, dir string, res *interp.Resolver, scope string) (sharedKeys, error) {
	o := newKeyHasher(res)
	o.str("composegen shared origin v1")
	o.str(plan.Name)
	o.str(dir)
	o.options(cfg, eng)
	o.str(scope)
	origin := o.sum()

	k := newKeyHasher(res)
	k.str("composegen shared key v1")
	k.str(origin)
	k.value(reflect.ValueOf(plan).Elem())
	if err := k.files(plan, dir); err != nil {
		return sharedKeys{}, err
	}
	ids, err := imageIDs(ctx, eng, plan, cfg, dir, res)
	if err != nil {
		return sharedKeys{}, err
	}
	for _, id := range ids {
		k.str(id)
	}
	return sharedKeys{key: k.sum(), origin: origin}, nil
}

// keyHasher writes values to a hash, each length-prefixed so that no two
// sequences of values write the same bytes.
type keyHasher struct {
	h       hash.Hash
	res     *interp.Resolver
	entries int
	bytes   int64
}

func newKeyHasher(res *interp.Resolver) *keyHasher { return &keyHasher{h: sha256.New(), res: res} }

func (k *keyHasher) sum() string { return hex.EncodeToString(k.h.Sum(nil)) }

func (k *keyHasher) str(s string) {
	var n [binary.MaxVarintLen64]byte
	k.h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
	io.WriteString(k.h, s)
}

func (k *keyHasher) strs(list []string) {
	k.str(strconv.Itoa(len(list)))
	for _, s := range list {
		k.str(s)
	}
}

// options writes the options that change what a start runs.
func (k *keyHasher) options(cfg config, eng engine.Engine) {
	k.str("profiles")
	if cfg.profilesSet {
		p := append([]string(nil), cfg.profiles...)
		sort.Strings(p)
		k.strs(p)
	} else {
		k.str("(plan's)")
	}
	svcs := append([]string(nil), cfg.services...)
	sort.Strings(svcs)
	k.str("services")
	k.strs(svcs)
	names := make([]string, 0, len(cfg.scale))
	for n := range cfg.scale {
		names = append(names, n)
	}
	sort.Strings(names)
	k.str("scale")
	for _, n := range names {
		k.str(n + "=" + strconv.Itoa(cfg.scale[n]))
	}
	k.str(fmt.Sprintf("fixed=%t reuse=%t", cfg.fixedPorts, cfg.reuse))
	k.str(engines.Name(cfg.engine))
	k.str(eng.Info().Endpoint)
}

var envVarType = reflect.TypeOf(composeplan.EnvVar{})

// value writes a value of the plan with every string interpolated.
func (k *keyHasher) value(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		if !strings.Contains(s, "$") {
			k.str(s)
			return
		}
		x, err := k.res.Expand("", s)
		if err != nil {
			// The start fails the same way; the key only has to be
			// stable.
			k.str("!" + s)
			return
		}
		k.str("=" + x)
	case reflect.Bool:
		k.str(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		k.str(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		k.str(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		k.str(strconv.FormatFloat(v.Float(), 'g', -1, 64))
	case reflect.Pointer:
		if v.IsNil() {
			k.str("nil")
			return
		}
		k.str("&")
		k.value(v.Elem())
	case reflect.Slice:
		if v.IsNil() {
			k.str("nil")
			return
		}
		k.str("[" + strconv.Itoa(v.Len()))
		for i := 0; i < v.Len(); i++ {
			k.value(v.Index(i))
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		k.str("{" + strconv.Itoa(len(keys)))
		for _, key := range keys {
			k.str(key.String())
			k.value(v.MapIndex(key))
		}
	case reflect.Struct:
		if v.Type() == envVarType && v.FieldByName("FromEnv").Bool() {
			name := v.FieldByName("Name").String()
			val, ok := k.res.Lookup(name)
			k.str(name)
			k.str(fmt.Sprintf("from env %t=%s", ok, val))
			return
		}
		k.str(v.Type().Name())
		for i := 0; i < v.NumField(); i++ {
			k.str(v.Type().Field(i).Name)
			k.value(v.Field(i))
		}
	default:
		k.str(v.Kind().String())
	}
}

// files writes the contents of the files the plan reads from this machine.
func (k *keyHasher) files(plan *composeplan.Plan, dir string) error {
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
	return nil
}

// path writes a file or a directory tree: names, modes, symlink targets
// and contents (sizes and modification times beyond the budget).
func (k *keyHasher) path(p string) {
	k.str(p)
	fi, err := os.Stat(p)
	if err != nil {
		k.str("missing")
		return
	}
	if !fi.IsDir() {
		k.file(p, fi)
		return
	}
	_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			k.str("error " + q)
			return nil
		}
		k.entries++
		if k.entries > keyMaxEntries {
			k.str("truncated")
			return filepath.SkipAll
		}
		r, _ := filepath.Rel(p, q)
		k.str(r)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			t, _ := os.Readlink(q)
			k.str("-> " + t)
		case d.Type().IsRegular():
			if fi, err := d.Info(); err == nil {
				k.file(q, fi)
			}
		default:
			k.str(d.Type().String())
		}
		return nil
	})
}

func (k *keyHasher) file(p string, fi fs.FileInfo) {
	k.str(fi.Mode().String())
	if !fi.Mode().IsRegular() {
		return
	}
	if k.bytes+fi.Size() > keyMaxBytes {
		k.str(fmt.Sprintf("size %d mtime %d", fi.Size(), fi.ModTime().UnixNano()))
		return
	}
	f, err := os.Open(p)
	if err != nil {
		k.str("unreadable")
		return
	}
	defer f.Close()
	h := sha256.New()
	n, _ := io.Copy(h, io.LimitReader(f, fi.Size()))
	k.bytes += n
	k.str(hex.EncodeToString(h.Sum(nil)))
}

// imageIDs returns what identifies the image of each service, in plan
// order: its local image id ("absent" when the engine does not have it),
// or for a service whose image is built from its build section, its build
// hash and, when the start runs it, the id of the image of that hash,
// built first if needed.
func imageIDs(ctx context.Context, eng engine.Engine, plan *composeplan.Plan, cfg config, dir string, res *interp.Resolver) ([]string, error) {
	ids := make([]string, len(plan.Services))
	runs := map[string]bool{}
	if selected, err := selectServices(plan, cfg); err == nil {
		for _, sp := range selected {
			runs[sp.Name] = true
		}
	}
	var g errgroup.Group
	g.SetLimit(8)
	var mu sync.Mutex
	var firstErr error
	setErr := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	for i := range plan.Services {
		sp := &plan.Services[i]
		policy, err := res.Expand("pull_policy", sp.PullPolicy)
		if err != nil {
			ids[i] = "!" + sp.PullPolicy
			continue
		}
		if buildable(sp, policy, eng.Info()) {
			g.Go(func() error {
				id, err := builtImageKey(ctx, eng, res, dir, plan.Name, sp, runs[sp.Name], cfg.build || policy == "build")
				if err != nil {
					setErr(err)
				}
				ids[i] = id
				return nil
			})
			continue
		}
		image := sp.Image
		if image == "" && sp.Build != nil {
			image = normalizeProjectName(plan.Name) + "-" + sp.Name
		}
		if image == "" {
			ids[i] = "no image" // the start says so
			continue
		}
		g.Go(func() error {
			ref, err := res.Expand("image", image)
			if err != nil {
				ids[i] = "!" + image
				return nil
			}
			info, err := eng.Image(ctx, ref)
			switch {
			case err == nil:
				ids[i] = ref + "@" + info.ID
			case errors.Is(err, engine.ErrNotFound):
				ids[i] = ref + "@absent"
			default:
				setErr(fmt.Errorf("inspect image %s: %w", ref, err))
			}
			return nil
		})
	}
	_ = g.Wait()
	return ids, firstErr
}
