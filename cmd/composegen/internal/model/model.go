// Package model holds composegen's own description of a compose project:
// the static runtime plan, and every name and every method of the generated
// file with its documentation. Build makes it from a loaded project, without
// any file-system access; the emit stage only prints it.
//
// The model owns every naming decision: the service types, their StartX
// functions, Env types and selector constants, the port and accessor
// methods, the reserved names and how collisions are resolved, which kind
// accessors exist (and why others do not), and which URL a service gets.
package model

import (
	"github.com/composegen/composegen/cmd/composegen/internal/diag"
	"github.com/composegen/composegen/cmd/composegen/internal/header"
	"github.com/composegen/composegen/runtime/composeplan"
)

// Project is the generator's model of one compose project.
type Project struct {
	// Package is the Go package name of the generated file.
	Package string
	// Header is what the generated file's header records: the committed
	// inputs, and the generator's version and arguments.
	Header header.Header
	// Plan is emitted verbatim as a Go literal.
	Plan composeplan.Plan
	// Services parallels Plan.Services (same order, name order).
	Services []Service
	// Profiles are the profiles the services declare, in name order, each
	// with its selector constant.
	Profiles []Profile
	// Diagnostics are the warnings found while loading and building; the
	// CLI reports them.
	Diagnostics diag.List
	// EngineImports are the packages imported for their side effect of
	// registering an engine (-engine kubernetes), sorted.
	EngineImports []string
}

// Service is one compose service with its Go names and methods.
type Service struct {
	// Name is the compose service name.
	Name string
	// TypeName is the exported identifier of the service's type and Stack
	// field ("order-db" → "OrderDB").
	TypeName string
	// StartName is its fixture constructor ("StartOrderDB").
	StartName string
	// EnvTypeName is the type of its Env method's result ("OrderDBEnv").
	EnvTypeName string
	// ConstName is its selector constant of type ServiceName
	// ("ServiceOrderDB").
	ConstName string
	// Kind is the templates catalog kind name ("postgres"), "" if none.
	Kind string
	// Origin describes the image or build for doc comments: "image
	// postgres:16", "built from ./api".
	Origin string
	// Replicas is the number of containers (1 unless deploy.replicas or
	// scale say more).
	Replicas int
	// Methods are the service type's methods besides the fixed ones
	// (FixedMethods): ports, kind accessors, URL, then user accessors.
	Methods []Method
	// Notes are paragraphs for the type's doc comment: why the service has
	// no kind, which kind accessors are not generated and why.
	Notes []string
	// Env are the fields of the Env type, in name order.
	Env []EnvField
	// Absent says, for the Stack field's doc comment, when the field is
	// nil: which option runs the service ("nil unless this stack instance
	// runs it: ...").
	Absent string
	// AbsentPanic is the message of the panic of a method called on a nil
	// service (see GuardMethod): the service, why a stack instance may not
	// run it (its profiles, WithServices) and the option that adds it.
	AbsentPanic string
}

// MethodKind says what a method returns and how.
type MethodKind int

const (
	// PortMethod returns the published port Port/Protocol (runtime.Port).
	PortMethod MethodKind = iota
	// KindAccessor calls the templates function Func with the service.
	KindAccessor
	// HTTPURL returns templates.HTTPURL of Port.
	HTTPURL
	// UserAccessor renders Template, an x-composegen accessor.
	UserAccessor
)

// Method is one method of a service type.
type Method struct {
	Kind MethodKind
	Name string
	// Doc is the doc comment after the method's name ("returns ...").
	Doc string
	// Port and Protocol: PortMethod and HTTPURL (tcp).
	Port     int
	Protocol string
	// Func and Result ("string" or "[]string"): KindAccessor.
	Func   string
	Result string
	// PerTest: a KindAccessor that takes the test (FreshDSN, FreshURL).
	PerTest bool
	// InNetwork: a KindAccessor called with templates.InNetwork(service),
	// the in-network twin of another (InternalDSN of DSN).
	InNetwork bool
	// Key (as written in x-composegen) and Template: UserAccessor.
	Key      string
	Template string
	// example is an InNetwork accessor's Exec example, completed in its Doc
	// once the stack's field names are known (see exampleDocs).
	example string
}

// EnvField is one field of a service's Env type.
type EnvField struct {
	// Field is the Go field name ("POSTGRES_USER" → "PostgresUser").
	Field string
	// Name is the environment variable name.
	Name string
	// Doc is the field's doc comment after its name.
	Doc string
}

// Profile is a compose profile with its selector constant.
type Profile struct {
	Name      string
	ConstName string
	// Services are the services that declare it, in name order.
	Services []string
}

// ExtensionKey is the compose service extension read by composegen.
const ExtensionKey = "x-composegen"
