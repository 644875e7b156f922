package load

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/format"
	interp "github.com/compose-spec/compose-go/v2/interpolation"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/tree"
	"github.com/compose-spec/compose-go/v2/types"
)

// Structural fields: compose-go parses them at load time, so their variables
// are resolved at generation time with the real environment.
var structuralPaths = []tree.Path{
	"name",
	"include.[]",
	"include.[].path",
	"include.[].path.[]",
	"include.[].env_file",
	"include.[].env_file.[]",
	"include.[].project_directory",
	"services.*.extends",
	"services.*.extends.file",
	"services.*.extends.service",
	"services.*.profiles.[]",
	"services.*.ports.[]",
	"services.*.ports.[].published",
	"services.*.ports.[].protocol",
	"services.*.ports.[].host_ip",
	"services.*.ports.[].mode",
	"services.*.ports.[].name",
	"services.*.expose.[]",
	"services.*.healthcheck.interval",
	"services.*.healthcheck.timeout",
	"services.*.healthcheck.start_period",
	"services.*.healthcheck.start_interval",
	"services.*.stop_grace_period",
	"services.*.shm_size",
	"services.*.mem_limit",
	"services.*.mem_reservation",
	"services.*.memswap_limit",
	"services.*.mem_swappiness",
	"services.*.deploy.resources.limits.memory",
	"services.*.deploy.resources.limits.cpus",
	"services.*.deploy.resources.limits.pids",
	"services.*.deploy.resources.reservations.memory",
	"services.*.deploy.resources.reservations.cpus",
	"services.*.depends_on.[]",
	"services.*.depends_on.*.condition",
	"services.*.networks.[]",
	"services.*.links.[]",
	"services.*.volumes_from.[]",
	"services.*.secrets.[]",
	"services.*.secrets.[].source",
	"services.*.configs.[]",
	"services.*.configs.[].source",
	"services.*.volumes.[].type",
	"services.*.build.shm_size",
	"services.*.tmpfs.[].size",
	"services.*.volumes.[].tmpfs.size",
}

// MaxPortRange is the largest number of ports one ports or expose entry may
// declare ("8000-8099"): each port is published and gets a method, so a
// range like "1-65535" would start 65535 proxies and generate code that does
// not compile.
const MaxPortRange = 100

// castMapping returns compose-go's type casts, each wrapped to resolve
// tokens first, plus resolving casts for the structural fields and the
// casts that let the fields constrained by the schema hold variables.
func castMapping(vars *Vars) map[tree.Path]interp.Cast {
	def := loader.ToOptions(&types.ConfigDetails{}, nil).Interpolate.TypeCastMapping
	out := make(map[tree.Path]interp.Cast, len(def)+len(structuralPaths)+1)
	for p, c := range def {
		out[p] = resolving(vars, p, c)
	}
	identity := func(s string) (interface{}, error) { return s, nil }
	for _, p := range structuralPaths {
		if _, ok := out[p]; !ok {
			out[p] = resolving(vars, p, identity)
		}
	}
	out["services.*.volumes.[]"] = volumeCast(vars)
	for _, c := range ConstrainedFields() {
		if _, ok := out[c.Path]; ok {
			continue // resolved at generation: the real value is validated
		}
		switch {
		case c.Encoded:
			out[c.Path] = encodedCast(vars)
		case c.Sample != "":
			out[c.Path] = sampleCast(c.Sample)
		}
	}
	return out
}

// UnsetError is the error of a field resolved at generation (a published
// port, a duration...) that uses a variable which is not set.
type UnsetError struct {
	// Vars are the unset variables.
	Vars []string
	// Template is the field's value as written.
	Template string
	// Resolved is what it gives with the unset variables blank.
	Resolved string
	// Err is why that is not a valid value.
	Err error
}

func (e *UnsetError) Error() string {
	return fmt.Sprintf("%s %s not set: %q gives %q, %v", strings.Join(quoteVars(e.Vars), ", "), plural(len(e.Vars), "is", "are"), e.Template, e.Resolved, e.Err)
}

func quoteVars(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "${" + n + "}"
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// RangeError is the error of a ports or expose entry with a range of more
// than MaxPortRange ports.
type RangeError struct {
	Value string
	Ports int
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("%s declares %d ports; composegen publishes every declared port and generates a method for each, and refuses ranges of more than %d ports", Shown(e.Value), e.Ports, MaxPortRange)
}

// resolving wraps cast, the cast of the field at path, to resolve the
// value's variables with the generating environment first. A variable used
// without a default that is unset resolves to "" as in docker compose; when
// that makes the value invalid, the cast fails with an *UnsetError naming
// it, else the use is recorded for a warning.
func resolving(vars *Vars, path tree.Path, cast interp.Cast) interp.Cast {
	check := validator(path)
	return func(s string) (interface{}, error) {
		r, _, unset, err := vars.resolve(s)
		if err != nil {
			return nil, err
		}
		if verr := check(r); verr != nil {
			if len(unset) > 0 {
				return nil, &UnsetError{Vars: unset, Template: vars.Template(s), Resolved: r, Err: verr}
			}
			var rerr *RangeError
			if errors.As(verr, &rerr) {
				rerr.Value = vars.Template(s)
				return nil, rerr
			}
		}
		v, err := cast(r)
		if err != nil && len(unset) > 0 {
			return nil, &UnsetError{Vars: unset, Template: vars.Template(s), Resolved: r, Err: err}
		}
		if err == nil && len(unset) > 0 {
			vars.noteUnset(vars.Template(s), unset)
		}
		return v, err
	}
}

// validator returns a check of the resolved value of a structural field,
// for the fields compose-go parses after interpolation (so that a blank
// from an unset variable is reported where it comes from), and for the
// size of port ranges.
func validator(path tree.Path) func(string) error {
	parts := path.Parts()
	last := parts[len(parts)-1]
	if last == tree.PathMatchList && len(parts) > 1 {
		last = parts[len(parts)-2] + ".[]"
	}
	switch last {
	case "ports.[]":
		return checkPorts
	case "expose.[]":
		return checkExpose
	case "published":
		return func(s string) error {
			if s == "" {
				return nil
			}
			_, _, err := portRange(s)
			return err
		}
	case "interval", "timeout", "start_period", "start_interval", "stop_grace_period":
		return func(s string) error {
			var d types.Duration
			return d.DecodeMapstructure(s)
		}
	case "shm_size", "mem_limit", "mem_reservation", "memswap_limit", "memory", "size":
		return func(s string) error {
			var u types.UnitBytes
			return u.DecodeMapstructure(s)
		}
	case "condition":
		return oneOf(types.ServiceConditionStarted, types.ServiceConditionHealthy, types.ServiceConditionCompletedSuccessfully)
	case "type":
		return oneOf(types.VolumeTypeBind, types.VolumeTypeVolume, types.VolumeTypeTmpfs, types.VolumeTypeNamedPipe, types.VolumeTypeCluster, types.VolumeTypeImage)
	case "extends", "service", "file", "path", "include.[]", "path.[]":
		return func(s string) error {
			if strings.TrimSpace(s) == "" {
				return errors.New("an empty value")
			}
			return nil
		}
	}
	// Other fields take a blank, as docker compose gives them: the use of
	// an unset variable is a warning.
	return func(string) error { return nil }
}

func oneOf(values ...string) func(string) error {
	return func(s string) error {
		if slices.Contains(values, s) {
			return nil
		}
		return fmt.Errorf("not one of %s", strings.Join(values, ", "))
	}
}

// checkPorts validates a short-syntax ports entry and the size of its
// ranges.
func checkPorts(s string) error {
	ports, err := types.ParsePortConfig(s)
	if err != nil {
		return err
	}
	if len(ports) > MaxPortRange {
		return &RangeError{Value: s, Ports: len(ports)}
	}
	return nil
}

// checkExpose validates an expose entry ("3000", "8000-8010/tcp").
func checkExpose(s string) error {
	port, _, _ := strings.Cut(s, "/")
	lo, hi, err := portRange(port)
	if err != nil {
		return err
	}
	if n := hi - lo + 1; n > MaxPortRange {
		return &RangeError{Value: s, Ports: n}
	}
	return nil
}

// portRange parses "8080" or "8000-8010".
func portRange(s string) (int, int, error) {
	a, c, isRange := strings.Cut(s, "-")
	lo, err := strconv.Atoi(strings.TrimSpace(a))
	if err != nil {
		return 0, 0, fmt.Errorf("invalid port %q", s)
	}
	hi := lo
	if isRange {
		if hi, err = strconv.Atoi(strings.TrimSpace(c)); err != nil {
			return 0, 0, fmt.Errorf("invalid port range %q", s)
		}
	}
	if lo < 0 || hi > 65535 || hi < lo {
		return 0, 0, fmt.Errorf("port %q out of range", s)
	}
	return lo, hi, nil
}

// volumeCast handles the short syntax of a service volume whose source is a
// variable ("${DATA:-./data}:/data"): compose-go decides between a bind mount
// and a named volume from the source's first character, so the source is
// resolved to decide the type, and the long syntax is returned with the
// source kept as a template.
func volumeCast(vars *Vars) interp.Cast {
	return func(s string) (interface{}, error) {
		if !HasTokens(s) {
			return s, nil
		}
		resolved, _, err := vars.Resolve(s)
		if err != nil {
			return nil, err
		}
		real, err := format.ParseVolume(resolved)
		if err != nil {
			return nil, err
		}
		tok, err := format.ParseVolume(s)
		if err != nil || strings.Count(s, ":") != strings.Count(resolved, ":") {
			// The variable expands to several fields: keep the resolved
			// form, the warning says it was fixed at generation time.
			return resolved, nil
		}
		typ := real.Type
		if real.Source == "" && tok.Source != "" {
			// The variable is unset here: a variable source is a path.
			typ = types.VolumeTypeBind
		}
		return longVolume(typ, tok), nil
	}
}

func longVolume(typ string, tok types.ServiceVolumeConfig) map[string]any {
	m := map[string]any{"type": typ, "target": tok.Target}
	if tok.Source != "" {
		m["source"] = tok.Source
	}
	if tok.ReadOnly {
		m["read_only"] = true
	}
	if tok.Consistency != "" {
		m["consistency"] = tok.Consistency
	}
	if typ == types.VolumeTypeBind {
		b := map[string]any{"create_host_path": true}
		if tok.Bind != nil {
			if tok.Bind.Propagation != "" {
				b["propagation"] = tok.Bind.Propagation
			}
			if tok.Bind.SELinux != "" {
				b["selinux"] = tok.Bind.SELinux
			}
		}
		m["bind"] = b
	}
	if tok.Volume != nil && tok.Volume.NoCopy {
		m["volume"] = map[string]any{"nocopy": true}
	}
	return m
}

// ConstrainedField is a string field that the compose JSON schema
// constrains by an enum or an anchored pattern, so that a variable token
// would fail validation.
type ConstrainedField struct {
	Path tree.Path
	// Values are the enum's values; Pattern the pattern ("" for an enum).
	Values  []string
	Pattern string
	// Structural fields are resolved at generation instead (see
	// structuralPaths); the real value is validated.
	Structural bool
	// Encoded fields (pull_policy) keep their template: the schema sees a
	// valid placeholder that encodes the template, restored after loading.
	Encoded bool
	// Sample is the valid value the schema sees for fields composegen does
	// not carry into the plan (cgroup, gpus...; the model reports them as
	// unsupported): their template is not kept.
	Sample string
}

// constrainedFields are the constrained string fields of compose-go's
// schema (v2.16.2), sorted by path. TestConstrainedFieldsMatchSchema
// derives the list from the schema and fails when an upgrade of compose-go
// changes it; the list is written out so that no generation pays for
// walking the schema. Unanchored patterns (container_name's) are not listed:
// every token matches them.
var constrainedFields = []ConstrainedField{
	{Path: "jobs.*.cgroup", Values: []string{"host", "private"}, Sample: "host"},
	{Path: "jobs.*.depends_on.*.condition", Values: []string{"service_started", "service_healthy", "service_completed_successfully"}, Sample: "service_started"},
	{Path: "jobs.*.gpus", Values: []string{"all"}, Sample: "all"},
	{Path: "jobs.*.pull_policy", Pattern: pullPolicyPattern, Encoded: true},
	{Path: "jobs.*.triggers.schedule.[].concurrency", Values: []string{"forbid", "queue"}, Sample: "forbid"},
	{Path: "jobs.*.triggers.schedule.[].missed_fires", Values: []string{"one", "skip"}, Sample: "one"},
	{Path: "jobs.*.volumes.[].bind.recursive", Values: []string{"enabled", "disabled", "writable", "readonly"}, Sample: "enabled"},
	{Path: "jobs.*.volumes.[].bind.selinux", Values: []string{"z", "Z"}, Sample: "z"},
	{Path: "jobs.*.volumes.[].type", Values: volumeTypes, Sample: "bind"},
	{Path: "services.*.cgroup", Values: []string{"host", "private"}, Sample: "host"},
	{Path: "services.*.depends_on.*.condition", Values: []string{"service_started", "service_healthy", "service_completed_successfully"}, Structural: true},
	{Path: "services.*.deploy.rollback_config.order", Values: []string{"start-first", "stop-first"}, Sample: "start-first"},
	{Path: "services.*.deploy.update_config.order", Values: []string{"start-first", "stop-first"}, Sample: "start-first"},
	{Path: "services.*.develop.watch.[].action", Values: []string{"rebuild", "sync", "restart", "sync+restart", "sync+exec"}, Sample: "rebuild"},
	{Path: "services.*.gpus", Values: []string{"all"}, Sample: "all"},
	{Path: "services.*.pre_start.[].cgroup", Values: []string{"host", "private"}, Sample: "host"},
	{Path: "services.*.pre_start.[].gpus", Values: []string{"all"}, Sample: "all"},
	{Path: "services.*.pre_start.[].pull_policy", Pattern: pullPolicyPattern, Encoded: true},
	{Path: "services.*.pre_start.[].volumes.[].bind.recursive", Values: []string{"enabled", "disabled", "writable", "readonly"}, Sample: "enabled"},
	{Path: "services.*.pre_start.[].volumes.[].bind.selinux", Values: []string{"z", "Z"}, Sample: "z"},
	{Path: "services.*.pre_start.[].volumes.[].type", Values: volumeTypes, Sample: "bind"},
	{Path: "services.*.pull_policy", Pattern: pullPolicyPattern, Encoded: true},
	{Path: "services.*.volumes.[].bind.recursive", Values: []string{"enabled", "disabled", "writable", "readonly"}, Sample: "enabled"},
	{Path: "services.*.volumes.[].bind.selinux", Values: []string{"z", "Z"}, Sample: "z"},
	{Path: "services.*.volumes.[].type", Values: volumeTypes, Structural: true},
}

const pullPolicyPattern = "^(always|never|build|if_not_present|missing|refresh|daily|weekly|every_([0-9]+[wdhms])+)$"

var volumeTypes = []string{"bind", "volume", "tmpfs", "cluster", "npipe", "image"}

// ConstrainedFields lists the string fields that compose's schema
// constrains by an enum or an anchored pattern, sorted by path.
func ConstrainedFields() []ConstrainedField { return constrainedFields }

// sampleCast gives the schema a valid value for a constrained field that
// holds variables.
func sampleCast(sample string) interp.Cast {
	return func(s string) (interface{}, error) {
		if HasTokens(s) {
			return sample, nil
		}
		return s, nil
	}
}

// A pull_policy with variables is loaded as a placeholder that the schema's
// pattern accepts ("every_<duration>") and that encodes the index of the
// template in Vars.encoded; restoreConstrained puts the template back.
const placeholderMark = "every_7357w"

var rePlaceholder = regexp.MustCompile(`^` + placeholderMark + `([0-9]+)s$`)

func encodedCast(vars *Vars) interp.Cast {
	return func(s string) (interface{}, error) {
		if !HasTokens(s) {
			return s, nil
		}
		return placeholderMark + strconv.Itoa(vars.encode(s)) + "s", nil
	}
}

// restoreConstrained puts back the templates of the fields loaded as
// placeholders.
func (res *Result) restoreConstrained() {
	for name, s := range res.Project.Services {
		if m := rePlaceholder.FindStringSubmatch(s.PullPolicy); m != nil {
			i, _ := strconv.Atoi(m[1])
			s.PullPolicy = res.Vars.decode(i)
			res.Project.Services[name] = s
		}
	}
}
