package model

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/tree"

	"github.com/composegen/composegen/cmd/composegen/internal/load"
	"github.com/composegen/composegen/runtime/composeplan"
)

// constrainedCases has a compose file for every string field that compose's
// JSON schema constrains by an enum or an anchored pattern (the load
// package derives the list from the schema; a field added to the schema
// fails TestConstrainedFieldsAreAllTested until it gets a case here), plus
// the fields the schema leaves free that users write with variables. VALUE
// stands for the field's value. plan returns the field from the plan, nil
// for fields composegen does not carry (warned as unsupported).
var constrainedCases = map[string]struct {
	compose string
	plan    func(composeplan.ServiceSpec) string
	// structural fields are resolved when generating: an unset variable
	// there is an error naming it.
	structural bool
}{
	"services.*.pull_policy":                            {compose: "    pull_policy: VALUE\n", plan: func(s composeplan.ServiceSpec) string { return s.PullPolicy }},
	"services.*.container_name":                         {compose: "    container_name: VALUE\n", plan: func(s composeplan.ServiceSpec) string { return s.ContainerName }},
	"services.*.restart":                                {compose: "    restart: VALUE\n", plan: func(s composeplan.ServiceSpec) string { return s.Restart }},
	"services.*.network_mode":                           {compose: "    network_mode: VALUE\n", plan: func(s composeplan.ServiceSpec) string { return s.NetworkMode }},
	"services.*.ipc":                                    {compose: "    ipc: VALUE\n", plan: func(s composeplan.ServiceSpec) string { return s.Ipc }},
	"services.*.pid":                                    {compose: "    pid: VALUE\n", plan: func(s composeplan.ServiceSpec) string { return s.Pid }},
	"services.*.platform":                               {compose: "    platform: VALUE\n", plan: func(s composeplan.ServiceSpec) string { return s.Platform }},
	"services.*.user":                                   {compose: "    user: VALUE\n", plan: func(s composeplan.ServiceSpec) string { return s.User }},
	"services.*.stop_signal":                            {compose: "    stop_signal: VALUE\n", plan: func(s composeplan.ServiceSpec) string { return s.StopSignal }},
	"services.*.userns_mode":                            {compose: "    userns_mode: VALUE\n", plan: func(s composeplan.ServiceSpec) string { return s.UsernsMode }},
	"services.*.image":                                  {compose: "", plan: func(s composeplan.ServiceSpec) string { return strings.TrimPrefix(s.Image, "busybox:") }},
	"services.*.cgroup":                                 {compose: "    cgroup: VALUE\n"},
	"services.*.gpus":                                   {compose: "    gpus: VALUE\n"},
	"services.*.deploy.rollback_config.order":           {compose: "    deploy:\n      rollback_config:\n        order: VALUE\n"},
	"services.*.deploy.update_config.order":             {compose: "    deploy:\n      update_config:\n        order: VALUE\n"},
	"services.*.develop.watch.[].action":                {compose: "    develop:\n      watch:\n        - path: ./src\n          action: VALUE\n"},
	"services.*.volumes.[].bind.recursive":              {compose: "    volumes:\n      - type: bind\n        source: ./data\n        target: /data\n        bind:\n          recursive: VALUE\n"},
	"services.*.volumes.[].bind.selinux":                {compose: "    volumes:\n      - type: bind\n        source: ./data\n        target: /data\n        bind:\n          selinux: VALUE\n"},
	"services.*.volumes.[].type":                        {compose: "    volumes:\n      - type: VALUE\n        source: data\n        target: /data\n", structural: true},
	"services.*.depends_on.*.condition":                 {compose: "    depends_on:\n      other:\n        condition: VALUE\n", structural: true},
	"services.*.pre_start.[].cgroup":                    {compose: "    pre_start:\n      - image: busybox\n        cgroup: VALUE\n"},
	"services.*.pre_start.[].gpus":                      {compose: "    pre_start:\n      - image: busybox\n        gpus: VALUE\n"},
	"services.*.pre_start.[].pull_policy":               {compose: "    pre_start:\n      - image: busybox\n        pull_policy: VALUE\n"},
	"services.*.pre_start.[].volumes.[].bind.recursive": {compose: "    pre_start:\n      - image: busybox\n        volumes:\n          - type: bind\n            source: ./d\n            target: /d\n            bind:\n              recursive: VALUE\n"},
	"services.*.pre_start.[].volumes.[].bind.selinux":   {compose: "    pre_start:\n      - image: busybox\n        volumes:\n          - type: bind\n            source: ./d\n            target: /d\n            bind:\n              selinux: VALUE\n"},
	"services.*.pre_start.[].volumes.[].type":           {compose: "    pre_start:\n      - image: busybox\n        volumes:\n          - type: VALUE\n            source: d\n            target: /d\n"},
	"jobs.*.cgroup":                                     {compose: "JOB    cgroup: VALUE\n"},
	"jobs.*.gpus":                                       {compose: "JOB    gpus: VALUE\n"},
	"jobs.*.pull_policy":                                {compose: "JOB    pull_policy: VALUE\n"},
	"jobs.*.depends_on.*.condition":                     {compose: "JOB    depends_on:\n      app:\n        condition: VALUE\n"},
	"jobs.*.triggers.schedule.[].concurrency":           {compose: "JOB    triggers:\n      schedule:\n        - cron: \"0 * * * *\"\n          concurrency: VALUE\n"},
	"jobs.*.triggers.schedule.[].missed_fires":          {compose: "JOB    triggers:\n      schedule:\n        - cron: \"0 * * * *\"\n          missed_fires: VALUE\n"},
	"jobs.*.volumes.[].bind.recursive":                  {compose: "JOB    volumes:\n      - type: bind\n        source: ./d\n        target: /d\n        bind:\n          recursive: VALUE\n"},
	"jobs.*.volumes.[].bind.selinux":                    {compose: "JOB    volumes:\n      - type: bind\n        source: ./d\n        target: /d\n        bind:\n          selinux: VALUE\n"},
	"jobs.*.volumes.[].type":                            {compose: "JOB    volumes:\n      - type: VALUE\n        source: d\n        target: /d\n"},
}

// A valid value of each field, for the ${VAR:-default} and set cases.
var constrainedValues = map[string]string{
	"pull_policy": "always", "container_name": "app-1", "restart": "always", "network_mode": "host",
	"ipc": "host", "pid": "host", "platform": "linux/amd64", "user": "1000", "stop_signal": "SIGINT",
	"userns_mode": "host", "image": "1.36", "cgroup": "host", "gpus": "all", "order": "stop-first",
	"action": "sync", "recursive": "readonly", "selinux": "Z", "type": "volume",
	"condition": "service_healthy", "concurrency": "queue", "missed_fires": "skip",
}

func TestConstrainedFieldsAreAllTested(t *testing.T) {
	for _, c := range load.ConstrainedFields() {
		if _, ok := constrainedCases[string(c.Path)]; !ok {
			t.Errorf("no test case for the constrained field %s (values %v, pattern %q)", c.Path, c.Values, c.Pattern)
		}
	}
}

// TestConstrainedFieldsTakeVariables: every field the compose schema
// constrains (and the free ones users write with variables) takes ${VAR},
// ${VAR:-default} and an unset ${VAR}; each loads and stays a template,
// resolved when the stack starts, except the few fields compose parses when
// loading (volume type, depends_on condition), where an unset variable is
// an error that names it.
func TestConstrainedFieldsTakeVariables(t *testing.T) {
	paths := make([]string, 0, len(constrainedCases))
	for p := range constrainedCases {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, path := range paths {
		tc := constrainedCases[path]
		last := tree.Path(path).Last()
		value := constrainedValues[last]
		for _, v := range []struct{ name, expr, environ string }{
			{"set", "${X}", "X=" + value},
			{"default", "${X:-" + value + "}", ""},
			{"unset", "${X}", ""},
		} {
			t.Run(path+"/"+v.name, func(t *testing.T) {
				compose := constrainedCompose(tc.compose, last, v.expr)
				var environ []string
				if v.environ != "" {
					environ = []string{v.environ}
				}
				p, err := build(t, compose, environ...)
				if tc.structural && v.name == "unset" {
					if err == nil || !strings.Contains(err.Error(), "${X} is not set") || !strings.Contains(err.Error(), "resolved when generating") {
						t.Fatalf("err = %v, want one naming ${X}\n%s", err, compose)
					}
					return
				}
				if err != nil {
					t.Fatalf("%v\n%s", err, compose)
				}
				if tc.plan == nil {
					return
				}
				_, spec := svc(t, p, "app")
				if got := tc.plan(spec); got != v.expr {
					t.Errorf("plan has %q, want the template %q", got, v.expr)
				}
			})
		}
	}
}

// constrainedCompose writes a compose file with the field's value.
func constrainedCompose(fragment, field, value string) string {
	image := "busybox"
	if field == "image" {
		image = "busybox:" + value
	}
	s := "services:\n  app:\n    image: " + image + "\n"
	job, isJob := strings.CutPrefix(fragment, "JOB")
	if !isJob {
		s += fragment
	}
	s += "  other:\n    image: busybox\n"
	if isJob {
		s += "jobs:\n  job:\n    image: busybox\n" + job
		if !strings.Contains(job, "triggers:") {
			s += "    triggers:\n      schedule:\n        - cron: \"0 * * * *\"\n"
		}
	}
	if strings.Contains(fragment, "source: data") || strings.Contains(fragment, "source: d\n") {
		s += "volumes:\n  data: {}\n  d: {}\n"
	}
	return strings.ReplaceAll(s, "VALUE", fmt.Sprintf("%q", value))
}
