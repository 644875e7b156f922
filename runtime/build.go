package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/buildctx"
	"github.com/composegen/composegen/runtime/internal/diag"
	"github.com/composegen/composegen/runtime/internal/interp"
	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/lock"
	"github.com/composegen/composegen/runtime/internal/mask"
	"github.com/composegen/composegen/runtime/internal/sharekey"
)

// Images of services with a build section are identified by a build hash,
// a SHA-256 over what the build reads: the files of the context that the
// engine receives (those its .dockerignore does not exclude, with their
// permission bits; see package buildctx), the Dockerfile (also from
// outside the context), the target, the build args as resolved at start,
// and the platform. The image keeps the name compose gives it (image:, or
// <project>-<service>) and carries the hash in the label labelBuildHash:
//
//   - an image of that name with the same hash is used as it is (one
//     inspect, no build);
//   - otherwise it is built (and named, as compose does; the image it
//     replaces keeps running in the containers that use it);
//   - WithBuild (COMPOSEGEN_BUILD=1) and pull_policy: build build it
//     anyway, once per go test run and hash: the test binaries of the run
//     use that build.
//
// The processes of a machine that need the image of the same name take
// turns through a file lock, so that one of them builds it and the others
// use that build. Containers are created from the image's id, never its
// name, so that a build of another version of the image, by another
// process, cannot slip in between.
//
// The hash covers build args, which may be secrets: only the hash is
// written (to the image's label), never a value.
const labelBuildHash = "io.composegen.build.hash"

// buildTarget is a service's build section, resolved.
type buildTarget struct {
	spec engine.BuildSpec // spec.Tag is the image's name
	hash string           // "" when not computed
}

// resolveBuild resolves the build section of sp: the image's name, what to
// build and, with hash, the build hash.
func resolveBuild(res *interp.Resolver, dir, planName string, sp *composeplan.ServiceSpec, hash bool) (*buildTarget, error) {
	image, err := res.Expand("image", sp.Image)
	if err != nil {
		return nil, err
	}
	if image == "" {
		image = normalizeProjectName(planName) + "-" + sp.Name
	}
	b := sp.Build
	bctx, err := res.Expand("build.context", b.Context)
	if err != nil {
		return nil, err
	}
	cdir := bctx
	if !filepath.IsAbs(cdir) {
		cdir = filepath.Join(dir, filepath.FromSlash(bctx))
	}
	spec := engine.BuildSpec{Tag: image, ContextDir: cdir,
		Labels: map[string]string{label.Managed: "true", label.Service: sp.Name}}
	if spec.Args, err = res.ExpandMap("build.args", b.Args); err != nil {
		return nil, err
	}
	if spec.Dockerfile, err = res.Expand("build.dockerfile", b.Dockerfile); err != nil {
		return nil, err
	}
	if spec.Target, err = res.Expand("build.target", b.Target); err != nil {
		return nil, err
	}
	if spec.Platform, err = res.Expand("platform", sp.Platform); err != nil {
		return nil, err
	}
	bt := &buildTarget{spec: spec}
	if !hash {
		return bt, nil
	}
	c, err := buildctx.Open(cdir, spec.Dockerfile)
	if err != nil {
		return nil, fmt.Errorf("build.context %s: %w", cdir, err)
	}
	digest, err := c.Digest()
	if err != nil {
		return nil, fmt.Errorf("build.context %s: %w", cdir, err)
	}
	bt.hash = buildHash(digest, spec)
	spec.Labels[labelBuildHash] = bt.hash
	bt.spec = spec
	return bt, nil
}

// buildHash is the hash of a build: the context's digest and the build's
// parameters.
func buildHash(digest string, spec engine.BuildSpec) string {
	k := sharekey.New(nil)
	k.Str("composegen build v1")
	k.Str(digest)
	k.Str(spec.Dockerfile)
	k.Str(spec.Target)
	k.Str(spec.Platform)
	names := make([]string, 0, len(spec.Args))
	for n := range spec.Args {
		names = append(names, n)
	}
	sort.Strings(names)
	k.Str("args")
	for _, n := range names {
		k.Str(n)
		k.Str(spec.Args[n])
	}
	return k.Sum()
}

// buildable reports whether the image of sp is built from its build
// section according to its pull_policy (always pulls, never uses what is
// there) on an engine that can build.
func buildable(sp *composeplan.ServiceSpec, policy string, info engine.Info) bool {
	return sp.Build != nil && !info.NoBuild &&
		(policy == "" || policy == "missing" || policy == "if_not_present" || policy == "build")
}

// ensureBuilt returns the id of the image of bt, building it when no image
// of its name has its hash, or when force is set and this go test run has
// not built it yet.
func ensureBuilt(ctx context.Context, eng engine.Engine, bt *buildTarget, force bool) (string, error) {
	if !force {
		info, err := eng.Image(ctx, bt.spec.Tag)
		if err == nil && info.Labels[labelBuildHash] == bt.hash {
			return info.ID, nil
		}
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			return "", err
		}
	}
	key := fmt.Sprintf("build %s %s %s %t", eng.Info().Endpoint, bt.spec.Tag, bt.hash, force)
	ch := images.DoChan(key, func() (any, error) {
		// Not cancelled by one caller: others may wait for the same
		// image. It is bounded by the start's timeout of whoever waits.
		return buildLocked(context.WithoutCancel(ctx), eng, bt, force)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// buildLocked builds the image of bt under the machine-wide lock of its
// name, unless another process built it meanwhile (with force: in this go
// test run).
func buildLocked(ctx context.Context, eng engine.Engine, bt *buildTarget, force bool) (string, error) {
	if err := lock.EnsurePrivateDir(lock.Root()); err != nil {
		return "", err
	}
	base := filepath.Join(lock.Root(), "build-"+lock.FileName(eng.Info().Endpoint+" "+bt.spec.Tag))
	unlock, err := lock.File(ctx, base+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	forced := currentRun().scope + " " + bt.hash
	info, err := eng.Image(ctx, bt.spec.Tag)
	switch {
	case err == nil && info.Labels[labelBuildHash] == bt.hash:
		if !force {
			return info.ID, nil
		}
		if b, _ := os.ReadFile(base + ".forced"); string(b) == forced+" "+info.ID {
			return info.ID, nil
		}
	case err != nil && !errors.Is(err, engine.ErrNotFound):
		return "", err
	}
	if err := runBuild(ctx, eng, bt.spec); err != nil {
		return "", err
	}
	info, err = eng.Image(ctx, bt.spec.Tag)
	if err != nil {
		return "", fmt.Errorf("build image %s: built, but %w", bt.spec.Tag, err)
	}
	if force {
		_ = os.WriteFile(base+".forced", []byte(forced+" "+info.ID), 0o600)
	} else {
		_ = os.Remove(base + ".forced")
	}
	return info.ID, nil
}

// runBuild builds spec, with the end of the build's output in its error.
func runBuild(ctx context.Context, eng engine.Engine, spec engine.BuildSpec) error {
	var out diag.LimitedBuffer
	out.Max = 256 << 10
	if err := eng.Build(ctx, spec, &out); err != nil {
		// Masked before it is cut: a cut secret is no longer recognised.
		m := &mask.Masker{}
		m.AddEnv(spec.Args)
		return fmt.Errorf("build image %s from %s: %w\nbuild output (last lines):\n%s", spec.Tag, spec.ContextDir, err, diag.LastLines(m.String(out.String()), 30, 8<<10))
	}
	return nil
}

// builtImageKey is what the shared key records of the image of a service
// with a build section: its build hash and, when the service runs, the id
// of the image it runs, built first when needed.
func builtImageKey(ctx context.Context, eng engine.Engine, res *interp.Resolver, dir, planName string, sp *composeplan.ServiceSpec, runs, force bool) (string, error) {
	bt, err := resolveBuild(res, dir, planName, sp, true)
	if err != nil {
		// The start fails the same way; the key only has to be stable.
		return "!build " + sp.Name, nil
	}
	if !runs {
		return "build " + bt.hash, nil
	}
	id, err := ensureBuilt(ctx, eng, bt, force)
	if err != nil {
		return "", fmt.Errorf("service %q: %w", sp.Name, err)
	}
	return "build " + bt.hash + "@" + id, nil
}
