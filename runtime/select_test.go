package runtime

import (
	"slices"
	"strings"
	"testing"

	"github.com/composegen/composegen/runtime/composeplan"
)

func TestSelectServices(t *testing.T) {
	plan := &composeplan.Plan{Services: []composeplan.ServiceSpec{
		{Name: "app", DependsOn: []composeplan.Dependency{
			{Service: "db", Required: true},
			{Service: "cache", Required: false}, // optional, in a profile
			{Service: "gone", Required: false},  // optional, not in the plan
		}},
		{Name: "db"},
		{Name: "cache", Profiles: []string{"full"}},
		{Name: "debug", Profiles: []string{"debug"}, Pid: "service:app"},
		{Name: "tool", Profiles: []string{"*"}},
	}}
	names := func(specs []*composeplan.ServiceSpec) []string {
		var out []string
		for _, s := range specs {
			out = append(out, s.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		cfg  config
		want []string
	}{
		{"default profiles", config{}, []string{"app", "db", "tool"}},
		{"profile enables the optional dependency", config{profiles: []string{"full"}, profilesSet: true}, []string{"app", "db", "cache", "tool"}},
		{"a container reference pulls its service in", config{profiles: []string{"debug"}, profilesSet: true}, []string{"app", "db", "debug", "tool"}},
		{"every profile", config{profiles: []string{"*"}, profilesSet: true}, []string{"app", "db", "cache", "debug", "tool"}},
		{"named services and what they need", config{services: []string{"debug"}}, []string{"app", "db", "debug"}},
		{"a named service outside the active profiles", config{services: []string{"cache"}}, []string{"cache"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := selectServices(plan, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(names(got), tc.want) {
				t.Errorf("selected %v, want %v (in plan order)", names(got), tc.want)
			}
		})
	}

	// The one-shots that feed the named services come with them: those the
	// plan says run once, and those a dependent waits for with
	// service_completed_successfully; not a worker, not a service of
	// unknown lifecycle, not a one-shot outside the active profiles or
	// feeding only what is not selected.
	once := composeplan.LifecycleOneShot
	fed := &composeplan.Plan{Services: []composeplan.ServiceSpec{
		{Name: "db"},
		{Name: "migrate", Lifecycle: once, DependsOn: []composeplan.Dependency{{Service: "db", Condition: "service_healthy", Required: true}}},
		{Name: "seed", DependsOn: []composeplan.Dependency{{Service: "migrate", Condition: "service_completed_successfully", Required: true}, {Service: "cache", Required: true}}},
		{Name: "cache"},
		{Name: "api", DependsOn: []composeplan.Dependency{{Service: "seed", Condition: "service_completed_successfully", Required: true}}},
		{Name: "worker", Lifecycle: composeplan.LifecycleWorker, DependsOn: []composeplan.Dependency{{Service: "db", Required: true}}},
		{Name: "script", DependsOn: []composeplan.Dependency{{Service: "db", Required: true}}},
		{Name: "tools-init", Lifecycle: once, Profiles: []string{"tools"}, DependsOn: []composeplan.Dependency{{Service: "db", Required: true}}},
		{Name: "broker"},
		{Name: "broker-init", Lifecycle: once, DependsOn: []composeplan.Dependency{{Service: "broker", Required: true}}},
	}}
	for _, tc := range []struct {
		services, want []string
	}{
		{[]string{"db"}, []string{"db", "migrate", "seed", "cache"}},
		// seed depends on cache too: it may write there, so it comes, with
		// what it needs.
		{[]string{"cache"}, []string{"db", "migrate", "seed", "cache"}},
		{[]string{"broker"}, []string{"broker", "broker-init"}},
		{[]string{"worker"}, []string{"db", "migrate", "seed", "cache", "worker"}},
	} {
		got, err := selectServices(fed, config{services: tc.services})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names(got), tc.want) {
			t.Errorf("WithServices(%v) selected %v, want %v", tc.services, names(got), tc.want)
		}
	}

	if _, err := selectServices(plan, config{services: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), `no service "nope"`) {
		t.Errorf("unknown service: err = %v", err)
	}
	broken := &composeplan.Plan{Services: []composeplan.ServiceSpec{
		{Name: "app", DependsOn: []composeplan.Dependency{{Service: "db", Required: true}}},
	}}
	if _, err := selectServices(broken, config{}); err == nil || !strings.Contains(err.Error(), `service "app" depends on "db", which is not in the plan`) {
		t.Errorf("missing required dependency: err = %v", err)
	}
}
