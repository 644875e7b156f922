package model

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
	"github.com/composegen/composegen/cmd/composegen/internal/load"
	"github.com/composegen/composegen/runtime/composeplan"
)

// BuildOptions configure Build.
type BuildOptions struct {
	// Package is the Go package name of the generated file.
	Package string
	// Version, Args and Dir are recorded in the header (see Header).
	Version string
	Args    []string
	Dir     string
	// Engines are the engines the generated file links besides Docker and
	// Podman (which the runtime always has): "kubernetes".
	Engines []string
}

type builder struct {
	r     *load.Result
	opts  BuildOptions
	p     *Project
	diags diag.List
	// completedBy and healthyBy map a service to the first service that
	// waits for it with service_completed_successfully and
	// service_healthy (see lifecycle).
	completedBy, healthyBy map[string]string
}

// Build turns a loaded compose project into the model. It reads no file:
// everything it needs is in r. Strings keep their variable expressions (no
// value of the generating environment is used, except in the structural
// fields load reports); services, environment and every map-derived list
// are sorted, so the same input always gives the same model. Its error is a
// diag.Errors.
func Build(r *load.Result, opts BuildOptions) (*Project, error) {
	if r == nil || r.Project == nil {
		return nil, errors.New("model: nothing loaded")
	}
	b := &builder{r: r, opts: opts, p: &Project{Package: opts.Package}}
	engines, err := EngineImports(opts.Engines)
	if err != nil {
		return nil, err
	}
	b.p.EngineImports = engines
	b.diags = append(b.diags, r.Diagnostics...)
	b.header()
	b.planHeader()
	b.services()
	b.resources()
	if err := b.names(); err != nil {
		return nil, err
	}
	b.diags.Sort()
	b.diags = b.diags.Compact()
	if err := b.diags.Err(); err != nil {
		return nil, err
	}
	b.p.Diagnostics = b.diags.Warnings()
	if leak := findTokens(b.p); leak != "" {
		return nil, fmt.Errorf("internal error: unresolved variable token in %s", leak)
	}
	return b.p, nil
}

func (b *builder) header() {
	h := &b.p.Header
	h.Version, h.Args, h.Dir = b.opts.Version, slices.Clone(b.opts.Args), b.opts.Dir
	if h.Dir == "" {
		h.Dir = "."
	}
	for _, f := range b.r.Files {
		h.Sources = append(h.Sources, slashRel(b.r.OutDir, f))
	}
}

func (b *builder) planHeader() {
	plan := &b.p.Plan
	plan.Name = b.r.Project.Name
	plan.Dir = slashRel(b.r.OutDir, b.r.ProjectDir)
	for _, f := range b.r.Files {
		plan.Files = append(plan.Files, slashRel(b.r.OutDir, f))
	}
	// The inputs of the drift check, relative to the generated file: a
	// file that has no relative path (another volume) is left out, so that
	// no absolute path is written.
	for _, in := range b.r.Inputs {
		if p := slashRel(b.r.OutDir, in.File); !filepath.IsAbs(filepath.FromSlash(p)) {
			plan.Inputs = append(plan.Inputs, composeplan.Input{Path: p, SHA256: in.SHA256})
		}
	}
	for _, f := range b.r.EnvFiles {
		plan.EnvFiles = append(plan.EnvFiles, composeplan.EnvFile{Path: b.path(f), Required: true})
	}
	if len(b.r.EnvFiles) == 0 {
		// The runtime reads the project's .env at start when it exists.
		plan.EnvFiles = []composeplan.EnvFile{{Path: ".env"}}
	}
	plan.Profiles = slices.Clone(b.r.Profiles)
	b.checkProfiles()
}

// names assigns the package-level names of the services and profiles.
func (b *builder) names() error {
	profiles := map[string][]string{}
	for _, s := range b.p.Plan.Services {
		for _, p := range s.Profiles {
			profiles[p] = append(profiles[p], s.Name)
		}
	}
	for _, p := range sortedKeys(profiles) {
		if strings.Contains(p, "$") {
			continue // a template: no constant
		}
		b.p.Profiles = append(b.p.Profiles, Profile{Name: p, Services: profiles[p]})
	}
	if err := assignTopNames(b.p.Services, b.p.Profiles); err != nil {
		return diag.Errors{{Severity: diag.Error, Field: "services", Message: err.Error()}}
	}
	exampleDocs(b.p.Services)
	b.absence()
	return nil
}

func slashRel(base, p string) string {
	r, err := filepath.Rel(base, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(r)
}

func within(dir, p string) bool {
	r, err := filepath.Rel(dir, p)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator))
}

// t turns tokens back into template text.
func (b *builder) t(s string) string { return b.r.Vars.Template(s) }

// ts is t of each string; nil stays nil.
func (b *builder) ts(in []string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = b.t(s)
	}
	return out
}

// tmap is t of each key and value; an empty map is nil.
func (b *builder) tmap(in map[string]string) map[string]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[b.t(k)] = b.t(v)
	}
	return out
}

// path returns a compose-go resolved (absolute) path relative to the plan's
// Dir, slash-separated, as a template. Paths outside the module (and the
// output and project directories) are machine-specific and kept absolute.
func (b *builder) path(p string) string {
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) || strings.Contains(p, "://") {
		return b.t(p)
	}
	dir := b.r.ProjectDir
	if within(dir, p) || within(b.r.ModuleRoot, p) || within(b.r.OutDir, p) {
		// A path that is a single variable ("${DATA:-./data}") stays as
		// written.
		return b.t(slashRel(dir, p))
	}
	return b.t(filepath.ToSlash(p))
}

// at returns a diagnostic located at a service's field (or the service, or
// the first file).
func (b *builder) at(sev diag.Severity, service, field, format string, args ...any) diag.Diagnostic {
	d := diag.Diagnostic{Severity: sev, Service: service, Field: field, Message: fmt.Sprintf(format, args...)}
	if pos, ok := b.r.Positions.Service(service, field); ok {
		d.File, d.Line, d.Column = b.r.Display(pos.File), pos.Line, pos.Column
	} else if len(b.r.Files) > 0 {
		d.File = b.r.Display(b.r.Files[0])
	}
	return d
}

func (b *builder) warn(service, field, format string, args ...any) {
	b.diags = append(b.diags, b.at(diag.Warning, service, field, format, args...))
}

// warnWith is warn with a hint (what to do) and a detail (the explanation,
// printed with -v only): the message and hint make one short line.
func (b *builder) warnWith(service, field, hint, detail, format string, args ...any) {
	d := b.at(diag.Warning, service, field, format, args...)
	d.Hint, d.Detail = hint, detail
	b.diags = append(b.diags, d)
}

func (b *builder) fail(service, field, format string, args ...any) {
	b.diags = append(b.diags, b.at(diag.Error, service, field, format, args...))
}

// failHint is fail with a hint.
func (b *builder) failHint(service, field, hint, format string, args ...any) {
	d := b.at(diag.Error, service, field, format, args...)
	d.Hint = hint
	b.diags = append(b.diags, d)
}

// warnTop warns about a top-level field (networks.x.ipam), located in the
// last file that declares it.
func (b *builder) warnTop(field, format string, args ...any) {
	b.warnTopWith(field, "", format, args...)
}

// warnTopWith is warnTop with a detail (see warnWith).
func (b *builder) warnTopWith(field, detail, format string, args ...any) {
	d := diag.Diagnostic{Severity: diag.Warning, Field: field, Message: fmt.Sprintf(format, args...), Detail: detail}
	if pos, ok := b.r.Positions.Find(field); ok {
		d.File, d.Line, d.Column = b.r.Display(pos.File), pos.Line, pos.Column
	} else if len(b.r.Files) > 0 {
		d.File = b.r.Display(b.r.Files[0])
	}
	b.diags = append(b.diags, d)
}

func (b *builder) checkProfiles() {
	known := map[string]bool{}
	for _, s := range b.r.Project.Services {
		for _, p := range s.Profiles {
			known[b.t(p)] = true
		}
	}
	for _, p := range b.r.Profiles {
		if p != "*" && !known[p] {
			b.diags = append(b.diags, diag.Diagnostic{Severity: diag.Warning, Field: "profiles", Message: fmt.Sprintf("profile %q is used by no service", p),
				Hint: diag.DidYouMean(p, sortedKeys(known))})
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// findTokens reports where a variable token survived, "" when none did.
func findTokens(p *Project) string {
	s := fmt.Sprintf("%#v", *p)
	if i := strings.IndexRune(s, '\uE000'); i >= 0 {
		start := max(0, i-60)
		return strings.ToValidUTF8(s[start:i], "")
	}
	return ""
}

// EngineModules maps the engines that live in modules of their own to the
// package the generated file imports (blank) to link them: their
// dependencies (client-go) enter only the builds of those who ask.
var EngineModules = map[string]string{
	"kubernetes": "github.com/composegen/composegen/kube",
}

// EngineImports returns the packages that link the named engines, sorted
// and without duplicates. Docker and Podman need none.
func EngineImports(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		switch n {
		case "docker", "podman":
			continue
		}
		path, ok := EngineModules[n]
		if !ok {
			return nil, fmt.Errorf("-engine %s: unknown engine; the engines are docker, podman (always linked) and kubernetes", n)
		}
		out = append(out, path)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
