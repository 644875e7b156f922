package runtime

import (
	"fmt"
	"sort"
	"strings"

	"github.com/composegen/composegen/runtime/composeplan"
)

// selectServices returns the services to start, in plan order: those of
// the active profiles, or, with WithServices, the named ones and the
// one-shots that feed them (see addFeeders); each with the closure of its
// required dependencies.
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
	if len(cfg.services) > 0 {
		if err := sel.addFeeders(plan); err != nil {
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

// addFeeders selects, until nothing changes, the one-shots of the active
// profiles that depend on a selected service (a migration or a seed that
// waits for the database), with what they need: a test that starts only
// the database gets it migrated, as the whole stack would be. A one-shot
// is a service the plan says runs once (composeplan.LifecycleOneShot) or
// one that a dependent waits for with service_completed_successfully; a
// service of unknown lifecycle is not pulled in (go generate names those,
// with the fix).
func (sel *selection) addFeeders(plan *composeplan.Plan) error {
	completes := map[string]bool{}
	for i := range plan.Services {
		for _, d := range plan.Services[i].DependsOn {
			if d.Condition == "service_completed_successfully" {
				completes[d.Service] = true
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for i := range plan.Services {
			sp := &plan.Services[i]
			oneShot := sp.Lifecycle == composeplan.LifecycleOneShot || sp.Lifecycle == "" && completes[sp.Name]
			if sel.want[sp.Name] || !sel.active(sp) || !oneShot {
				continue
			}
			feeds := false
			for _, d := range sp.DependsOn {
				feeds = feeds || sel.want[d.Service]
			}
			if !feeds {
				continue
			}
			if err := sel.visit(sp.Name, ""); err != nil {
				return err
			}
			changed = true
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
