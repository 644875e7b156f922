package emit

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/composegen/composegen/cmd/composegen/internal/model"
)

func optsParam() jen.Code { return jen.Id("opts").Op("...").Qual(runtimePkg, "Option") }

// selectors declares the ServiceName type with one constant per service,
// and the Profile type with one constant per profile (when there are any):
// a misspelt service or profile is then a compile error.
func (g *gen) selectors() {
	g.decl(doc(fmt.Sprintf("%s names a service of the compose project %s, for [%s].", model.ServiceNameType, quote(g.p.Plan.Name), model.WithServicesFunc)),
		jen.Type().Id(model.ServiceNameType).String())
	if len(g.p.Services) > 0 {
		defs := make([]jen.Code, 0, len(g.p.Services))
		for _, s := range g.p.Services {
			d := fmt.Sprintf("%s is the service %s", s.ConstName, quote(s.Name))
			if s.Origin != "" {
				d += " (" + oneLine(s.Origin) + ")"
			}
			defs = append(defs, doc(d+".").Id(s.ConstName).Id(model.ServiceNameType).Op("=").Lit(s.Name))
		}
		g.decl(doc("The services of the compose project "+quote(g.p.Plan.Name)+"."), jen.Const().Defs(defs...))
	}
	if len(g.p.Profiles) == 0 {
		return
	}
	g.decl(doc(fmt.Sprintf("%s names a profile of the compose project %s, for [%s].", model.ProfileType, quote(g.p.Plan.Name), model.WithProfilesFunc)),
		jen.Type().Id(model.ProfileType).String())
	defs := make([]jen.Code, 0, len(g.p.Profiles))
	for _, p := range g.p.Profiles {
		d := fmt.Sprintf("%s is the profile %s, of %s %s.", p.ConstName, quote(p.Name), plural(len(p.Services), "service", "services"), strings.Join(quoteAll(p.Services), ", "))
		defs = append(defs, doc(d).Id(p.ConstName).Id(model.ProfileType).Op("=").Lit(p.Name))
	}
	g.decl(doc("The profiles of the compose project "+quote(g.p.Plan.Name)+"."), jen.Const().Defs(defs...))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func quoteAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = quote(s)
	}
	return out
}

// options declares WithServices and WithProfiles, the typed forms of
// runtime.WithServices and runtime.WithProfiles.
func (g *gen) options() {
	example := ""
	if s, ok := g.exampleService(); ok {
		example = fmt.Sprintf(" For example, %s(t, %s(%s)) starts service %s and the services it depends on, waits until each is ready, and returns the stack.",
			model.StartFunc, model.WithServicesFunc, s.ConstName, quote(s.Name))
	}
	g.decl(doc(fmt.Sprintf("%s starts only the given services, the services they depend on (depends_on) and the one-shots that feed them (a migration that depends on one), whatever the active profiles; it is [runtime.WithServices] with typed names.%s With %s, the test waits only for those services on the run's one shared stack.", model.WithServicesFunc, example, model.SharedFunc)),
		typedOption(model.WithServicesFunc, "services", model.ServiceNameType, "WithServices"))
	if len(g.p.Profiles) == 0 {
		return
	}
	g.decl(doc(fmt.Sprintf("%s activates the given profiles instead of those given at generation; it is [runtime.WithProfiles] with typed names.", model.WithProfilesFunc)),
		typedOption(model.WithProfilesFunc, "profiles", model.ProfileType, "WithProfiles"))
}

// exampleService returns the service for WithServices' example: the first
// that depends on others, else the first.
func (g *gen) exampleService() (model.Service, bool) {
	for i, spec := range g.p.Plan.Services {
		if len(spec.DependsOn) > 0 {
			return g.p.Services[i], true
		}
	}
	if len(g.p.Services) > 0 {
		return g.p.Services[0], true
	}
	return model.Service{}, false
}

// typedOption declares func name(param ...typ) runtime.Option calling the
// runtime option of the same purpose with strings.
func typedOption(name, param, typ, runtimeFunc string) jen.Code {
	return jen.Func().Id(name).Params(jen.Id(param).Op("...").Id(typ)).Qual(runtimePkg, "Option").Block(
		jen.Id("names").Op(":=").Make(jen.Index().String(), jen.Len(jen.Id(param))),
		jen.For(jen.List(jen.Id("i"), jen.Id("n")).Op(":=").Range().Id(param)).Block(
			jen.Id("names").Index(jen.Id("i")).Op("=").String().Call(jen.Id("n")),
		),
		jen.Return(jen.Qual(runtimePkg, runtimeFunc).Call(jen.Id("names").Op("..."))),
	)
}

// stack declares the Stack type and its methods.
func (g *gen) stack() {
	fields := make([]jen.Code, 0, len(g.p.Services)+1)
	for _, s := range g.p.Services {
		d := fmt.Sprintf("%s is the service %s", s.TypeName, quote(s.Name))
		if s.Replicas > 1 {
			d += fmt.Sprintf(" (its first replica; see [%s.Replicas])", s.TypeName)
		}
		d += "; " + s.Absent
		fields = append(fields, doc(d).Id(s.TypeName).Op("*").Id(s.TypeName))
	}
	fields = append(fields, jen.Line().Id("rt").Op("*").Qual(runtimePkg, "Stack"))
	g.decl(doc(fmt.Sprintf("%s is a running instance of the compose project %s (%s), with one field per service.", model.StackType, quote(g.p.Plan.Name), g.sources())),
		jen.Type().Id(model.StackType).Struct(fields...))

	recv := jen.Id("s").Op("*").Id(model.StackType)
	g.decl(doc(fmt.Sprintf("Down stops and removes the stack's containers, networks and volumes. [%s] registers it with t.Cleanup; after [%s], call it yourself.", model.StartFunc, model.UpFunc)),
		jen.Func().Params(recv.Clone()).Id("Down").Params(jen.Id("ctx").Qual("context", "Context")).Error().
			Block(jen.Return(jen.Id("s").Dot("rt").Dot("Down").Call(jen.Id("ctx")))))
	g.decl(doc("Runtime returns the runtime stack, for what the typed API does not cover (its project name, services by name)."),
		jen.Func().Params(recv.Clone()).Id("Runtime").Params().Op("*").Qual(runtimePkg, "Stack").
			Block(jen.Return(jen.Id("s").Dot("rt"))))
}

// constructors declares Start and Up.
func (g *gen) constructors() {
	which := "the services without a profile"
	if len(g.p.Plan.Profiles) > 0 {
		which += " and those of the profiles " + strings.Join(quoteAll(g.p.Plan.Profiles), ", ") + " (given at generation)"
	}
	selection := "or the services selected with [" + model.WithServicesFunc + "] and the services they depend on"
	if len(g.p.Profiles) > 0 {
		selection += ", or those of the profiles of [" + model.WithProfilesFunc + "]"
	}
	g.decl(doc(
		fmt.Sprintf("%s starts %s of the compose project %s (%s) and waits until each is ready: a server answers, a one-shot (a migration, a seed) has exited 0. The stack is torn down at t.Cleanup. When it cannot start, %s fails the test with the failing service's cause (exit code, healthcheck output) and last log lines, then the state, readiness and ports of each other service.",
			model.StartFunc, which, quote(g.p.Plan.Name), selection, model.StartFunc),
		"The options are those of package runtime ([runtime.Option])."),
		jen.Func().Id(model.StartFunc).Params(jen.Id("t").Qual("testing", "TB"), optsParam()).Op("*").Id(model.StackType).Block(
			jen.Id("t").Dot("Helper").Call(),
			jen.Id("rt").Op(":=").Qual(runtimePkg, "Start").Call(jen.Id("t"), jen.Op("&").Id("composePlan"), jen.Id("opts").Op("...")),
			jen.Return(jen.Id("newComposeStack").Call(jen.Id("rt"))),
		))
	g.decl(doc(
		fmt.Sprintf("%s returns the stack that every test of every package of this go test run shares, for these options: the first caller starts it as [%s] does, concurrent callers in this and other test binaries wait for that start, later ones attach in milliseconds. A test never tears it down; it is removed when the go test run ends (kept for the next run with [runtime.WithReuse] or COMPOSEGEN_REUSE=1). Isolate tests on it with the per-test accessors (FreshDSN, FreshURL).",
			model.SharedFunc, model.StartFunc),
		"The options are those of package runtime ([runtime.Option]); a different compose file, environment value or option set gets a different stack."),
		jen.Func().Id(model.SharedFunc).Params(jen.Id("t").Qual("testing", "TB"), optsParam()).Op("*").Id(model.StackType).Block(
			jen.Id("t").Dot("Helper").Call(),
			jen.Id("rt").Op(":=").Qual(runtimePkg, "Shared").Call(jen.Id("t"), jen.Op("&").Id("composePlan"), jen.Id("opts").Op("...")),
			jen.Return(jen.Id("newComposeStack").Call(jen.Id("rt"))),
		))
	g.decl(doc(fmt.Sprintf("%s starts the stack like [%s], for TestMain and code outside tests: the caller must call [%s.Down] (in TestMain, from a function whose result goes to os.Exit, which skips deferred calls). When it fails, nothing is left behind.", model.UpFunc, model.StartFunc, model.StackType)),
		jen.Func().Id(model.UpFunc).Params(jen.Id("ctx").Qual("context", "Context"), optsParam()).Params(jen.Op("*").Id(model.StackType), jen.Error()).Block(
			jen.List(jen.Id("rt"), jen.Err()).Op(":=").Qual(runtimePkg, "Up").Call(jen.Id("ctx"), jen.Op("&").Id("composePlan"), jen.Id("opts").Op("...")),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
			jen.Return(jen.Id("newComposeStack").Call(jen.Id("rt")), jen.Nil()),
		))
}
