package runtime

import (
	"context"
	"fmt"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/label"
)

// createNetworksAndVolumes creates the networks and named volumes the
// selected services use, concurrently. External ones are used as they are.
func (s *Stack) createNetworksAndVolumes(ctx context.Context) error {
	var g errgroup.Group
	for _, name := range s.neededNetworks() {
		spec := s.networkSpec(name)
		if spec.External {
			s.networks[name] = firstNonEmpty(spec.ExternalName, name)
			continue
		}
		engName := s.project + "_" + name
		s.networks[name] = engName
		if s.cfg.resume != nil {
			continue // created by the start this one completes
		}
		g.Go(func() error {
			opts, err := s.res.ExpandMap("networks."+name+".driver_opts", spec.DriverOpts)
			if err != nil {
				return err
			}
			labels, err := s.res.ExpandMap("networks."+name+".labels", spec.Labels)
			if err != nil {
				return err
			}
			cctx, cancel := creating(ctx) // never abandoned half-way: see creating
			defer cancel()
			_, err = s.eng.CreateNetwork(cctx, engine.NetworkSpec{
				Name: engName, Project: s.project, Driver: spec.Driver, Internal: spec.Internal, Options: opts,
				Labels: s.labels(mergeLabels(labels, map[string]string{label.Network: name})),
			})
			if err != nil {
				return fmt.Errorf("create network %s: %w", engName, err)
			}
			return nil
		})
	}
	used := map[string]bool{}
	for _, u := range s.order {
		for _, m := range u.spec.Mounts {
			if m.Type == "volume" && m.Source != "" {
				used[m.Source] = true
			}
		}
	}
	for _, v := range s.plan.Volumes {
		if !used[v.Name] {
			continue
		}
		if v.External {
			s.volumes[v.Name] = firstNonEmpty(v.ExternalName, v.Name)
			continue
		}
		engName := s.project + "_" + v.Name
		s.volumes[v.Name] = engName
		if s.cfg.resume != nil {
			continue
		}
		g.Go(func() error {
			opts, err := s.res.ExpandMap("volumes."+v.Name+".driver_opts", v.DriverOpts)
			if err != nil {
				return err
			}
			labels, err := s.res.ExpandMap("volumes."+v.Name+".labels", v.Labels)
			if err != nil {
				return err
			}
			cctx, cancel := creating(ctx)
			defer cancel()
			err = s.eng.CreateVolume(cctx, engine.VolumeSpec{
				Name: engName, Project: s.project, Driver: v.Driver, Options: opts,
				Labels: s.labels(mergeLabels(labels, map[string]string{label.Volume: v.Name})),
			})
			if err != nil {
				return fmt.Errorf("create volume %s: %w", engName, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// neededNetworks returns the networks the selected services join, sorted.
func (s *Stack) neededNetworks() []string {
	needed := map[string]bool{}
	for _, u := range s.order {
		if u.spec.NetworkMode != "" && u.spec.NetworkMode != "bridge" && u.spec.NetworkMode != "default" {
			continue
		}
		if len(u.spec.Networks) == 0 {
			needed["default"] = true
		}
		for _, n := range u.spec.Networks {
			needed[n.Network] = true
		}
	}
	names := make([]string, 0, len(needed))
	for n := range needed {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *Stack) networkSpec(name string) composeplan.NetworkSpec {
	for _, n := range s.plan.Networks {
		if n.Name == name {
			return n
		}
	}
	return composeplan.NetworkSpec{Name: name}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func mergeLabels(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
