package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sync/singleflight"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/diag"
)

// images makes concurrent stacks of a process pull or build an image once.
var images singleflight.Group

// ensureImage makes the service's image available according to its pull
// policy and build section (and WithBuild), and returns its reference: for
// an image built from the build section, its id (see build.go).
func (r *replica) ensureImage(ctx context.Context) (string, error) {
	st := r.stack
	policy, err := st.res.Expand("pull_policy", r.spec.PullPolicy)
	if err != nil {
		return "", err
	}
	if buildable(r.spec, policy, st.info) {
		bt, err := resolveBuild(st.res, st.dir, st.plan.Name, r.spec, true)
		if err != nil {
			return "", err
		}
		st.mask.AddEnv(bt.spec.Args) // a secret build argument stays out of the stack's messages
		return ensureBuilt(ctx, st.eng, bt, policy == "build" || st.cfg.build)
	}
	image, err := st.res.Expand("image", r.spec.Image)
	if err != nil {
		return "", err
	}
	b := r.spec.Build
	if image == "" {
		if b == nil {
			return "", errors.New("no image and no build section")
		}
		image = normalizeProjectName(st.plan.Name) + "-" + r.spec.Name
	}
	action, err := r.imageAction(ctx, image, policy)
	if err != nil || action == "" {
		return image, err
	}
	key := st.info.Endpoint + " " + action + " " + image
	ch := images.DoChan(key, func() (any, error) {
		// Not cancelled by one caller: others may wait for the same
		// image. It is bounded by the start's timeout of whoever waits.
		ictx := context.WithoutCancel(ctx)
		if action == "build" {
			return nil, r.build(ictx)
		}
		return nil, r.pull(ictx, image, policy)
	})
	select {
	case res := <-ch:
		return image, res.Err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// imageAction decides whether the image is to be built, pulled or used as
// it is (""), for an image that is not identified by a build hash: pulled
// images, and build sections on an engine that cannot build.
func (r *replica) imageAction(ctx context.Context, image, policy string) (string, error) {
	present := func() (bool, error) {
		_, err := r.stack.eng.Image(ctx, image)
		if errors.Is(err, engine.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	b := r.spec.Build
	switch {
	case b != nil && (policy == "build" || r.stack.cfg.build):
		return "build", nil
	case b != nil && (policy == "" || policy == "missing" || policy == "if_not_present"):
		ok, err := present()
		if ok || err != nil {
			return "", err
		}
		return "build", nil
	case policy == "always":
		return "pull", nil
	case policy == "never":
		ok, err := present()
		if err == nil && !ok {
			err = fmt.Errorf("image %s is not present and pull_policy is never", image)
		}
		return "", err
	case policy == "" || policy == "missing" || policy == "if_not_present" || policy == "build":
		ok, err := present()
		if ok || err != nil {
			return "", err
		}
		return "pull", nil
	}
	return "", fmt.Errorf("pull_policy: %q is not one of always, never, missing, build", policy)
}

func (r *replica) pull(ctx context.Context, image, policy string) error {
	platform, _ := r.stack.res.Expand("platform", r.spec.Platform)
	var out diag.LimitedBuffer
	out.Max = 64 << 10
	if err := r.stack.eng.Pull(ctx, image, platform, &out); err != nil {
		hint := "is the image name right, and can the engine reach its registry?"
		if policy == "always" {
			hint = "pull_policy is always, so the image is pulled even when present; use pull_policy: missing to run a local image without a registry"
		}
		return fmt.Errorf("pull image %s: %w (%s)", image, err, hint)
	}
	return nil
}

// build builds the service's image without a build hash: on an engine
// that cannot build (NoBuild), whose Build says why.
func (r *replica) build(ctx context.Context) error {
	bt, err := resolveBuild(r.stack.res, r.stack.dir, r.stack.plan.Name, r.spec, false)
	if err != nil {
		return err
	}
	r.stack.mask.AddEnv(bt.spec.Args)
	return runBuild(ctx, r.stack.eng, bt.spec)
}

// checkPlatform refuses to run an image built for another platform than the
// service's platform: field asks for (the engine would run it, emulated or
// failing with "exec format error").
func (r *replica) checkPlatform(ctx context.Context, image string) error {
	want, err := r.stack.res.Expand("platform", r.spec.Platform)
	if err != nil || want == "" {
		return err
	}
	img, err := r.stack.eng.Image(ctx, image)
	if err != nil {
		return nil // the create reports it
	}
	wantOS, wantArch, _ := strings.Cut(want, "/")
	wantArch, _, _ = strings.Cut(wantArch, "/") // variants are not compared
	if wantOS != img.OS || (wantArch != "" && wantArch != img.Architecture) {
		return fmt.Errorf("platform: image %s is %s/%s, not %s (pull or build it for %s, or remove platform:)", image, img.OS, img.Architecture, want, want)
	}
	return nil
}
