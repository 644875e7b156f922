package runtime

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/engines"
	"github.com/composegen/composegen/runtime/internal/interp"
	"github.com/composegen/composegen/runtime/internal/sharekey"
)

// A shared stack is found by its key, a SHA-256 over everything the stack
// was started from, resolved as the start resolves it:
//
//   - the plan, every template interpolated with the values the start would
//     use (options, the process environment, the project's env files), and
//     the values of bare "- NAME" environment entries;
//   - the contents of env files, of bind-mounted files and directories and
//     of secret and config files (up to the budget of package sharekey;
//     beyond it, sizes and modification times);
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

// sharedKeys are the key and origin of a shared stack, hex-encoded.
type sharedKeys struct {
	key, origin string
}

// computeKeys computes the key and origin of the shared stack of plan with
// cfg. dir is the plan's directory; scope identifies the go test run ("" for
// a reused stack).
func computeKeys(ctx context.Context, eng engine.Engine, plan *composeplan.Plan, cfg config, dir string, res *interp.Resolver, scope string) (sharedKeys, error) {
	o := sharekey.New(res)
	o.Str("composegen shared origin v1")
	o.Str(plan.Name)
	o.Str(dir)
	hashOptions(o, cfg, eng)
	o.Str(scope)
	origin := o.Sum()

	k := sharekey.New(res)
	k.Str("composegen shared key v1")
	k.Str(origin)
	k.Plan(plan)
	k.Files(plan, dir)
	ids, err := imageIDs(ctx, eng, plan, cfg, dir, res)
	if err != nil {
		return sharedKeys{}, err
	}
	for _, id := range ids {
		k.Str(id)
	}
	return sharedKeys{key: k.Sum(), origin: origin}, nil
}

// hashOptions writes the options that change what a start runs.
func hashOptions(k *sharekey.Hasher, cfg config, eng engine.Engine) {
	k.Str("profiles")
	if cfg.profilesSet {
		p := append([]string(nil), cfg.profiles...)
		sort.Strings(p)
		k.Strs(p)
	} else {
		k.Str("(plan's)")
	}
	svcs := append([]string(nil), cfg.services...)
	sort.Strings(svcs)
	k.Str("services")
	k.Strs(svcs)
	names := make([]string, 0, len(cfg.scale))
	for n := range cfg.scale {
		names = append(names, n)
	}
	sort.Strings(names)
	k.Str("scale")
	for _, n := range names {
		k.Str(n + "=" + strconv.Itoa(cfg.scale[n]))
	}
	k.Str(fmt.Sprintf("fixed=%t reuse=%t", cfg.fixedPorts, cfg.reuse))
	k.Str(engines.Name(cfg.engine))
	k.Str(eng.Info().Endpoint)
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
