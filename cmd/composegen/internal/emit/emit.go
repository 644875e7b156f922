// Package emit prints a model.Project as a gofmt'ed Go source file with
// dave/jennifer. It decides nothing: every name, method and doc comment
// specific to the compose project comes from the model. The file has the
// API first (typed service and profile names, the options that take them,
// the Stack, Start and Up, then one type per service with its StartX
// function, its methods and its Env type), then its unexported helpers, and
// the static plan as a Go literal last.
//
// The output depends only on the model: same model, byte-identical file.
package emit

import (
	"bytes"
	"errors"
	"fmt"
	"go/token"
	"reflect"

	"github.com/dave/jennifer/jen"

	"github.com/composegen/composegen/cmd/composegen/internal/model"
)

const (
	runtimePkg   = "github.com/composegen/composegen/runtime"
	templatesPkg = "github.com/composegen/composegen/templates"
	// runtimeimplPkg holds what generated code needs of a service beyond
	// runtime.Service (protobuf-go's protoimpl pattern).
	runtimeimplPkg = "github.com/composegen/composegen/runtime/runtimeimpl"
)

// File renders the generated file for p. It writes nothing.
func File(p *model.Project) ([]byte, error) {
	if p == nil {
		return nil, errors.New("emit: nil project")
	}
	if !token.IsIdentifier(p.Package) || p.Package == "_" {
		return nil, fmt.Errorf("emit: package name %q is not a Go identifier", p.Package)
	}
	if len(p.Services) != len(p.Plan.Services) {
		return nil, fmt.Errorf("emit: model has %d services but its plan %d", len(p.Services), len(p.Plan.Services))
	}
	for i, s := range p.Services {
		if s.Name != p.Plan.Services[i].Name {
			return nil, fmt.Errorf("emit: service %d is %q in the model but %q in its plan", i, s.Name, p.Plan.Services[i].Name)
		}
		if err := checkIdentifiers(s); err != nil {
			return nil, err
		}
	}
	g := &gen{p: p, f: jen.NewFile(p.Package)}
	for _, path := range p.EngineImports {
		g.f.Anon(path)
	}
	g.header()
	g.selectors()
	g.options()
	g.stack()
	g.constructors()
	for i := range p.Services {
		g.service(i)
	}
	g.helpers()
	if err := g.plan(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := g.f.Render(&buf); err != nil {
		return nil, fmt.Errorf("emit: rendering the generated file: %w", err)
	}
	return groupImports(buf.Bytes()), nil
}

// checkIdentifiers refuses a model whose names are not exported Go
// identifiers: the model makes them, this keeps a bug in it from writing
// code that does not compile.
func checkIdentifiers(s model.Service) error {
	ids := []string{s.TypeName, s.StartName, s.EnvTypeName, s.ConstName}
	for _, m := range s.Methods {
		ids = append(ids, m.Name)
	}
	for _, e := range s.Env {
		ids = append(ids, e.Field)
	}
	for _, id := range ids {
		if !token.IsIdentifier(id) || !token.IsExported(id) {
			return fmt.Errorf("emit: service %q: %q is not an exported Go identifier", s.Name, id)
		}
	}
	return nil
}

type gen struct {
	p   *model.Project
	f   *jen.File
	lit literal
}

func (g *gen) header() {
	for _, line := range g.p.Header.Lines() {
		g.f.HeaderComment(line)
	}
	g.f.ImportName(runtimePkg, "runtime")
	g.f.ImportName(templatesPkg, "templates")
	g.f.ImportName(runtimeimplPkg, "runtimeimpl")
	g.f.ImportName("context", "context")
	g.f.ImportName("testing", "testing")
	g.f.ImportName("time", "time")
}

// decl adds a documented top-level declaration followed by a blank line.
func (g *gen) decl(doc *jen.Statement, code jen.Code) {
	g.f.Add(doc.Add(code))
	g.f.Line()
}

// helpers declares the unexported functions the API uses.
func (g *gen) helpers() {
	body := []jen.Code{jen.Id("s").Op(":=").Op("&").Id(model.StackType).Values(jen.Dict{jen.Id("rt"): jen.Id("rt")})}
	for _, s := range g.p.Services {
		body = append(body, jen.If(
			jen.Id("svc").Op(":=").Id("rt").Dot("Service").Call(jen.Lit(s.Name)),
			jen.Id("svc").Op("!=").Nil(),
		).Block(jen.Id("s").Dot(s.TypeName).Op("=").Op("&").Id(s.TypeName).Values(jen.Dict{jen.Id("svc"): jen.Qual(runtimeimplPkg, "Of").Call(jen.Id("svc"))})))
	}
	body = append(body, jen.Return(jen.Id("s")))
	g.decl(doc("newComposeStack wraps a started runtime stack in the typed Stack."),
		jen.Func().Id("newComposeStack").Params(jen.Id("rt").Op("*").Qual(runtimePkg, "Stack")).Op("*").Id(model.StackType).Block(body...))
}

// plan declares the plan literal, and the pointer helper it may use.
func (g *gen) plan() error {
	code, err := g.lit.value(reflect.ValueOf(g.p.Plan), false, "")
	if err != nil {
		return err
	}
	if g.lit.usedPtr {
		g.decl(doc("composePtr returns a pointer to v, for the optional fields of the plan."),
			jen.Func().Id("composePtr").Types(jen.Id("T").Any()).Params(jen.Id("v").Id("T")).Op("*").Id("T").Block(jen.Return(jen.Op("&").Id("v"))))
	}
	g.decl(doc(fmt.Sprintf("composePlan is the static plan of the compose project %s, generated from %s. Its strings are templates, interpolated when the stack starts.",
		quote(g.p.Plan.Name), g.sources())),
		jen.Var().Id("composePlan").Op("=").Add(code))
	return nil
}

// groupImports splits jennifer's single, sorted import block into the
// standard library and the rest, separated by a blank line, as goimports
// does. Both groups stay sorted, so the result is still gofmt'ed.
func groupImports(src []byte) []byte {
	start := bytes.Index(src, []byte("\nimport (\n"))
	if start < 0 {
		return src
	}
	start += len("\nimport (\n")
	end := bytes.Index(src[start:], []byte("\n)\n"))
	if end < 0 {
		return src
	}
	end += start + 1
	var std, other [][]byte
	for _, line := range bytes.Split(src[start:end-1], []byte("\n")) {
		path := bytes.Trim(bytes.TrimSpace(line), `"`)
		if i := bytes.LastIndexByte(bytes.TrimSpace(line), ' '); i >= 0 { // named import
			path = bytes.Trim(bytes.TrimSpace(line)[i+1:], `"`)
		}
		first, _, _ := bytes.Cut(path, []byte("/"))
		if bytes.ContainsRune(first, '.') {
			other = append(other, line)
		} else {
			std = append(std, line)
		}
	}
	if len(std) == 0 || len(other) == 0 {
		return src
	}
	var b bytes.Buffer
	b.Write(src[:start])
	b.Write(bytes.Join(std, []byte("\n")))
	b.WriteString("\n\n")
	b.Write(bytes.Join(other, []byte("\n")))
	b.WriteString("\n")
	b.Write(src[end:])
	return b.Bytes()
}
