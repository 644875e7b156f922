package model

import (
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
)

// supportedFields are the service attributes the plan represents (or that
// do not change how the stack behaves in tests).
var supportedFields = map[string]bool{
	"name": true, "image": true, "profiles": true, "command": true, "entrypoint": true,
	"environment": true, "env_file": true, "labels": true, "ports": true, "expose": true,
	"healthcheck": true, "depends_on": true, "working_dir": true, "user": true,
	"hostname": true, "restart": true, "build": true, "pull_policy": true, "volumes": true,
	"tmpfs": true, "extra_hosts": true, "networks": true, "network_mode": true, "links": true,
	"secrets": true, "configs": true, "container_name": true, "init": true, "privileged": true,
	"read_only": true, "tty": true, "stdin_open": true, "cap_add": true, "cap_drop": true,
	"shm_size": true, "sysctls": true, "ulimits": true, "stop_signal": true,
	"stop_grace_period": true, "platform": true, "extends": true,
	"dns": true, "dns_search": true, "dns_opt": true, "security_opt": true, "group_add": true,
	"mem_limit": true, "mem_reservation": true, "memswap_limit": true, "cpus": true,
	"cpu_shares": true, "pids_limit": true, "oom_kill_disable": true, "oom_score_adj": true,
	"volumes_from": true, "pid": true, "ipc": true, "devices": true, "userns_mode": true,
	"cgroup_parent": true, "scale": true,
	// No effect on a test stack.
	"develop": true, "attach": true, "deploy": true,
}

// unsupported reports every attribute of the service that the plan cannot
// carry.
func (sb *serviceBuilder) unsupported() {
	name := sb.s.Name
	if d := sb.s.Deploy; d != nil {
		dm, _ := toMap(d)
		for _, k := range sortedKeys(dm) {
			if k == "replicas" || strings.HasPrefix(k, "x-") || k == "mode" && d.Mode == "replicated" {
				continue
			}
			sb.warn(name, "deploy."+k, "not supported by composegen; ignored")
		}
	}
	m, err := toMap(sb.s)
	if err != nil {
		return
	}
	for _, k := range sortedKeys(m) {
		if supportedFields[k] || strings.HasPrefix(k, "x-") {
			continue
		}
		sb.warn(name, k, "not supported by composegen; ignored")
	}
}

// toMap renders a compose-go value as YAML and back to find which
// attributes are set.
func toMap(v any) (map[string]any, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// restartPolicies are the values docker compose accepts for restart.
var restartPolicies = []string{types.RestartPolicyNo, types.RestartPolicyAlways, types.RestartPolicyOnFailure, types.RestartPolicyUnlessStopped}

var reOnFailure = regexp.MustCompile(`^on-failure:[0-9]+$`)

// checkRestart refuses a restart policy that docker compose refuses: no,
// always, on-failure[:max-retries] or unless-stopped. A value with
// variables is checked when the stack starts.
func (sb *serviceBuilder) checkRestart() {
	r := sb.spec.Restart
	if r == "" || strings.Contains(r, "$") || strings.Contains(r, "\uE000") {
		return
	}
	if slices.Contains(restartPolicies, r) || reOnFailure.MatchString(r) {
		return
	}
	hint := diag.DidYouMean(r, restartPolicies)
	if hint == "" {
		hint = "use no, always, on-failure[:max-retries] or unless-stopped"
	} else {
		hint += " (no, always, on-failure[:max-retries] or unless-stopped)"
	}
	sb.failHint(sb.s.Name, "restart", hint, "invalid restart policy %q", r)
}
