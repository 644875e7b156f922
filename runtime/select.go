package runtime

import (
	"fmt"
	"sort"
	"strings"

	"github.com/composegen/composegen/runtime/composeplan"
)

// selectServices returns the services to start, in plan order: those of
// the active profiles, or, with WithServices, the named ones; each with the
// closure of its required dependencies.
func selectServices(plan *composeplan.Plan, cfg config) ([]*composeplan.ServiceSpec, error) {
	sel := &selection{byName: map[string]*composeplan.ServiceSpec{}, want: map[string]bool{}, profiles: plan.Profiles}
	for i := range plan.Services {
		sel.byName[plan.Services[i].Name] = &plan.Services[i]
	}
	if cfg.profilesSet {
		sel.profiles = cfg.profiles
	}
	var roots []string
	if len(cfg.services) > 0 {
		for _, n := range cfg.services {
			if sel.byName[n] == nil {
				return nil, fmt.Errorf("no service %q in the plan", n)
			}
			roots = append(roots, n)
		}
	} else {
		for i := range plan.Services {
			if sel.active(&plan.Services[i]) {
				roots = append(roots, plan.Services[i].Name)
			}
		}
	}
	for _, r := range roots {
		if err := sel.visit(r, ""); err != nil {
			return nil, err
		}
	}
	var out []*composeplan.ServiceSpec
	for i := range plan.Services {
		if sel.want[plan.Services[i].Name] {
			out = append(out, &plan.Services[i])
		}
	}
	if err := checkCycles(out); err != nil {
		return nil, err
	}
	return out, nil
}

// selection is the state of selectServices: the plan's services by name,
// the active profiles, and the services selected so far.
type selection struct {
	byName   map[string]*composeplan.ServiceSpec
	profiles []string
	want     map[string]bool
}

// active reports whether sp is enabled by the active profiles (a service
// without profiles always is).
func (sel *selection) active(sp *composeplan.ServiceSpec) bool {
	if len(sp.Profiles) == 0 {
		return true
	}
	for _, p := range sp.Profiles {
		if p == "*" {
			return true
		}
		for _, a := range sel.profiles {
			if a == p || a == "*" {
				return true
			}
		}
	}
	return false
}

// visit selects name and, transitively, what it needs: its required
// dependencies and the services whose containers it refers to (from is
// the dependent, for the error).
func (sel *selection) visit(name, from string) error {
	if sel.want[name] {
		return nil
	}
	sp := sel.byName[name]
	if sp == nil {
		return fmt.Errorf("service %q depends on %q, which is not in the plan", from, name)
	}
	sel.want[name] = true
	for _, d := range sp.DependsOn {
		// An optional dependency that is not in the plan or not in an
		// active profile is skipped.
		if !d.Required && (sel.byName[d.Service] == nil || !sel.active(sel.byName[d.Service])) {
			continue
		}
		if err := sel.visit(d.Service, name); err != nil {
			return err
		}
	}
	for _, ref := range containerRefs(sp) {
		if ref.optional {
			continue
		}
		if err := sel.visit(ref.service, name); err != nil {
			return err
		}
	}
	return nil
}

func checkCycles(specs []*composeplan.ServiceSpec) error {
	state := map[string]int{}
	by := map[string]*composeplan.ServiceSpec{}
	for _, s := range specs {
		by[s.Name] = s
	}
	var path []string
	var visit func(n string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("depends_on cycle: %s -> %s", strings.Join(path, " -> "), n)
		case 2:
			return nil
		}
		state[n] = 1
		path = append(path, n)
		if s := by[n]; s != nil {
			for _, d := range s.DependsOn {
				if by[d.Service] != nil {
					if err := visit(d.Service); err != nil {
						return err
					}
				}
			}
			for _, ref := range containerRefs(s) {
				if by[ref.service] != nil && ref.service != n {
					if err := visit(ref.service); err != nil {
						return err
					}
				}
			}
		}
		path = path[:len(path)-1]
		state[n] = 2
		return nil
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := visit(n); err != nil {
			return err
		}
	}
	return nil
}
