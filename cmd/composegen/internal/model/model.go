// Package model holds composegen's own description of a compose project:
// the static runtime plan plus everything the emitter needs to name things
// (Go identifiers, kinds, doc comments). It is built from the loaded compose
// project by Build and consumed by the emit stage.
package model

import (
	"strconv"

	"github.com/composegen/composegen/runtime/composeplan"
)

// Project is the generator's model of one compose project.
type Project struct {
	// Package is the Go package name of the generated file.
	Package string
	// Sources lists the compose files (and env files) the output was
	// generated from, relative to the output's directory, slash-separated,
	// for the header comment.
	Sources []string
	// InputHash is a hex SHA-256 over the inputs (compose files, env files
	// and flags), written into the header so -check can detect staleness.
	InputHash string
	// Plan is emitted verbatim as a Go literal.
	Plan composeplan.Plan
	// Services parallels Plan.Services (same order, name order).
	Services []Service
	// Warnings are reported by the CLI on stderr.
	Warnings []Warning
}

// Service is one compose service with its Go names.
type Service struct {
	// Name is the compose service name.
	Name string
	// GoName is the exported identifier of the service's type and Stack
	// field ("order-db" → "OrderDB").
	GoName string
	// Kind is the templates catalog kind name ("postgres"), "" if none.
	Kind string
	// Image is the image template, for doc comments.
	Image string
	Ports []Port
	Env   []Env
	// Accessors are user-defined accessors from x-composegen, in name order.
	Accessors []Accessor
}

// Port is one port method of a service type.
type Port struct {
	// Method is the method name: the long-syntax name ("HTTP") or
	// "Port5432" / "Port53UDP".
	Method   string
	Target   int
	Protocol string
	// Source describes where it came from for the doc comment, e.g.
	// `ports: "5432:5432"` or `expose: 9000` or `default port of kind postgres`.
	Source string
}

// Env is one field of the service's Env struct.
type Env struct {
	// Field is the Go field name ("POSTGRES_USER" → "PostgresUser").
	Field string
	// Name is the environment variable name.
	Name string
	// Value is the template as written in the compose file, for the doc
	// comment; secrets are never resolved at generation time.
	Value string
	// EnvFile is the env_file (relative to the project directory) the
	// variable was found in when it is not in environment. Only its name is
	// read at generation; its value is read when the stack starts.
	EnvFile string
}

// Accessor is a user-defined accessor from the x-composegen extension: a
// method returning Template rendered with text/template at run time.
type Accessor struct {
	Name     string
	Template string
}

// Warning is a non-fatal problem found while building the model.
type Warning struct {
	File    string
	Line    int
	Service string
	Field   string
	Message string
}

func (w Warning) String() string {
	s := w.File
	if w.Line > 0 {
		s += ":" + strconv.Itoa(w.Line)
	}
	if s != "" {
		s += ": "
	}
	if w.Service != "" {
		s += "service \"" + w.Service + "\": "
	}
	if w.Field != "" {
		s += w.Field + ": "
	}
	return s + w.Message
}
