package emit

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/composegen/composegen/cmd/composegen/internal/model"
)

// service declares a service's type, its StartX function, its methods and
// its Env type.
func (g *gen) service(i int) {
	s := &g.p.Services[i]
	g.serviceType(s)
	g.startFunc(s)
	recv := jen.Id("s").Op("*").Id(s.TypeName)
	for _, m := range s.Methods {
		if m.PerTest {
			g.decl(doc(m.Name+" "+m.Doc), jen.Func().Params(recv.Clone()).Id(m.Name).Params(jen.Id("t").Qual("testing", "TB")).Add(methodResult(m)).
				Block(guard(), jen.Id("t").Dot("Helper").Call(), jen.Return(jen.Qual(templatesPkg, m.Func).Call(jen.Id("t"), jen.Id("s").Dot("svc")))))
			continue
		}
		g.decl(doc(m.Name+" "+m.Doc), jen.Func().Params(recv.Clone()).Id(m.Name).Params().Add(methodResult(m)).
			Block(guard(), jen.Return(methodBody(m))))
	}
	g.fixedMethods(s, recv)
	g.guardMethod(s, recv)
	g.envType(s)
}

// guard is the first statement of every method of a service type: a
// method called on a nil service (a Stack field of a service the stack
// instance does not run) panics with what starts the service, rather than
// with a nil pointer dereference.
func guard() jen.Code { return jen.Id("s").Dot(model.GuardMethod).Call() }

// guardMethod declares the method that guard calls.
func (g *gen) guardMethod(s *model.Service, recv *jen.Statement) {
	g.decl(doc(fmt.Sprintf("%s panics when s is nil, as the Stack's %s field is when the stack instance does not run service %s, with what starts the service.", model.GuardMethod, s.TypeName, quote(s.Name))),
		jen.Func().Params(recv.Clone()).Id(model.GuardMethod).Params().Block(
			jen.If(jen.Id("s").Op("==").Nil()).Block(jen.Panic(jen.Lit(s.AbsentPanic))),
		))
}

func (g *gen) serviceType(s *model.Service) {
	first := fmt.Sprintf("%s is the compose service %s", s.TypeName, quote(s.Name))
	if s.Origin != "" {
		first += " (" + oneLine(s.Origin) + ")"
	}
	first += "."
	if s.Kind != "" {
		first += " Its kind in the templates catalog is " + s.Kind + "."
	}
	if s.Replicas > 1 {
		first += fmt.Sprintf(" It runs %d replicas: a handle is one replica, see [%s.Replicas].", s.Replicas, s.TypeName)
	}
	g.decl(doc(append([]string{first}, s.Notes...)...), jen.Type().Id(s.TypeName).Struct(jen.Id("svc").Qual(runtimeimplPkg, "Service")))
}

func (g *gen) startFunc(s *model.Service) {
	g.decl(doc(fmt.Sprintf("%s starts service %s and the services it depends on only, waits until they are ready and returns the service; it is %s(t, %s(%s)).%s. Teardown and failures are as with [%s].",
		s.StartName, quote(s.Name), model.StartFunc, model.WithServicesFunc, s.ConstName, s.TypeName, model.StartFunc)),
		jen.Func().Id(s.StartName).Params(jen.Id("t").Qual("testing", "TB"), optsParam()).Op("*").Id(s.TypeName).Block(
			jen.Id("t").Dot("Helper").Call(),
			jen.Id("rt").Op(":=").Qual(runtimePkg, "Start").Call(jen.Id("t"), jen.Op("&").Id("composePlan"),
				jen.Append(jen.Index().Qual(runtimePkg, "Option").Values(jen.Id(model.WithServicesFunc).Call(jen.Id(s.ConstName))), jen.Id("opts").Op("...")).Op("...")),
			jen.Return(jen.Id("newComposeStack").Call(jen.Id("rt")).Dot(s.TypeName)),
		))
}

func methodResult(m model.Method) jen.Code {
	switch {
	case m.Kind == model.PortMethod:
		return jen.Qual(runtimePkg, "Port")
	case m.Kind == model.KindAccessor && m.Result == "[]string":
		return jen.Index().String()
	}
	return jen.String()
}

func methodBody(m model.Method) jen.Code {
	svc := jen.Id("s").Dot("svc")
	switch m.Kind {
	case model.PortMethod:
		return svc.Dot("Port").Call(jen.Lit(m.Port), jen.Lit(m.Protocol))
	case model.KindAccessor:
		if m.InNetwork {
			return jen.Qual(templatesPkg, m.Func).Call(jen.Qual(templatesPkg, "InNetwork").Call(svc))
		}
		return jen.Qual(templatesPkg, m.Func).Call(svc)
	case model.HTTPURL:
		return jen.Qual(templatesPkg, "HTTPURL").Call(svc, jen.Lit(m.Port))
	default:
		return svc.Dot("Render").Call(jen.Lit(m.Key), jen.Lit(m.Template))
	}
}

// fixedMethods declares the methods every service type has
// (model.FixedMethods), in that order.
func (g *gen) fixedMethods(s *model.Service, recv *jen.Statement) {
	name := quote(s.Name)
	svc := jen.Id("s").Dot("svc")
	envValues := make([]jen.Code, 0, len(s.Env))
	for _, e := range s.Env {
		envValues = append(envValues, jen.Id(e.Field).Op(":").Add(svc.Clone()).Dot("Env").Call(jen.Lit(e.Name)))
	}
	g.decl(doc("Env returns the environment of service "+name+" as its container got it: the compose file's values interpolated when the stack started, with the test process's environment, the options and .env."),
		jen.Func().Params(recv.Clone()).Id("Env").Params().Id(s.EnvTypeName).Block(guard(), jen.Return(
			jen.Id(s.EnvTypeName).Custom(jen.Options{Open: "{", Close: "}", Separator: ",", Multi: len(envValues) > 0}, envValues...))))
	g.decl(doc("Healthcheck returns a copy of the healthcheck of service "+name+" as declared in the compose file, nil when it declares none."),
		jen.Func().Params(recv.Clone()).Id("Healthcheck").Params().Op("*").Qual(runtimePkg, "Healthcheck").
			Block(guard(), jen.Return(svc.Clone().Dot("Healthcheck").Call())))
	g.decl(doc(fmt.Sprintf("InternalAddr returns %s, the address other containers of the stack use to reach container port port of service %s.", quote(s.Name+":port"), name)),
		jen.Func().Params(recv.Clone()).Id("InternalAddr").Params(jen.Id("port").Int()).String().
			Block(guard(), jen.Return(svc.Clone().Dot("InternalAddr").Call(jen.Id("port")))))
	g.replicas(s, recv)
	g.decl(doc("Service returns the runtime service "+name+", for what the typed methods do not cover: Exec, logs, the container id, any port."),
		jen.Func().Params(recv.Clone()).Id("Service").Params().Op("*").Qual(runtimePkg, "Service").
			Block(guard(), jen.Return(svc.Clone().Dot("Service"))))
}

func (g *gen) replicas(s *model.Service, recv *jen.Statement) {
	d := fmt.Sprintf("Replicas returns a handle on each container of service %s, in replica order: the first is the replica s stands for in the Stack, and each has its own host ports.", quote(s.Name))
	if s.Replicas > 1 {
		d += fmt.Sprintf(" The compose file asks for %d replicas.", s.Replicas)
	}
	g.decl(doc(d),
		jen.Func().Params(recv.Clone()).Id("Replicas").Params().Index().Op("*").Id(s.TypeName).Block(
			guard(),
			jen.Id("rs").Op(":=").Id("s").Dot("svc").Dot("Replicas").Call(),
			jen.Id("out").Op(":=").Make(jen.Index().Op("*").Id(s.TypeName), jen.Len(jen.Id("rs"))),
			jen.For(jen.List(jen.Id("i"), jen.Id("r")).Op(":=").Range().Id("rs")).Block(
				jen.Id("out").Index(jen.Id("i")).Op("=").Op("&").Id(s.TypeName).Values(jen.Dict{jen.Id("svc"): jen.Qual(runtimeimplPkg, "Of").Call(jen.Id("r"))}),
			),
			jen.Return(jen.Id("out")),
		))
}

func (g *gen) envType(s *model.Service) {
	fields := make([]jen.Code, 0, len(s.Env))
	for j, e := range s.Env {
		if j > 0 {
			fields = append(fields, jen.Line())
		}
		fields = append(fields, doc(e.Field+" "+e.Doc).Id(e.Field).String())
	}
	d := fmt.Sprintf("%s is the environment of service %s, one field per variable of the compose file (environment and env_file). See [%s.Env].", s.EnvTypeName, quote(s.Name), s.TypeName)
	if len(s.Env) == 0 {
		d = fmt.Sprintf("%s is the environment of service %s, which sets no variables in the compose file. See [%s.Env].", s.EnvTypeName, quote(s.Name), s.TypeName)
	}
	g.decl(doc(d), jen.Type().Id(s.EnvTypeName).Struct(fields...))
}
