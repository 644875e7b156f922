package model

import (
	"fmt"
	"strconv"

	"github.com/composegen/composegen/cmd/composegen/internal/naming"
	"github.com/composegen/composegen/runtime/composeplan"
)

// environment fills the plan's environment and env files, and the Env
// fields: one per variable of environment, plus the names (never the
// values) of the variables of the service's env files.
func (sb *serviceBuilder) environment() {
	s := sb.s
	fromFile := sb.envFileNames()
	names := sortedKeys(s.Environment)
	for _, k := range sortedKeys(fromFile) {
		if _, ok := s.Environment[k]; !ok {
			names = append(names, k)
		}
	}
	names = sortedKeys(setOf(names))
	fields, err := naming.Assign(names, func(n string) string { return naming.Exported(n, "X") }, nil, "")
	if err != nil {
		sb.fail(s.Name, "environment", "%v", err)
	}
	for _, k := range names {
		v, declared := s.Environment[k]
		field := EnvField{Field: fields[k], Name: sb.t(k)}
		switch {
		case !declared:
			field.Doc = fmt.Sprintf("is the variable %s, from env_file %s (read when the stack starts).", oneLine(k), strconv.Quote(fromFile[k]))
		case v == nil:
			sb.spec.Environment = append(sb.spec.Environment, composeplan.EnvVar{Name: field.Name, FromEnv: true})
			field.Doc = fmt.Sprintf("is the variable %s, passed from the test process's environment (or .env) when the stack starts (a bare %s in the compose file).", oneLine(field.Name), strconv.Quote(field.Name))
		default:
			ev := composeplan.EnvVar{Name: field.Name, Value: sb.t(*v)}
			sb.spec.Environment = append(sb.spec.Environment, ev)
			field.Doc = fmt.Sprintf("is the variable %s, %s in the compose file.", oneLine(field.Name), strconv.Quote(ev.Value))
		}
		sb.ms.Env = append(sb.ms.Env, field)
	}
	for _, ef := range s.EnvFiles {
		sb.spec.EnvFiles = append(sb.spec.EnvFiles, composeplan.EnvFile{Path: sb.path(ef.Path), Required: bool(ef.Required), Format: sb.t(ef.Format)})
	}
}

// envFileNames returns the names of the variables of the service's env
// files that exist (as load read them), each with the env file (relative to
// the project directory) that defines it last.
func (sb *serviceBuilder) envFileNames() map[string]string {
	out := map[string]string{}
	for _, ef := range sb.s.EnvFiles {
		for _, k := range sb.r.EnvFileVars[ef.Path] {
			out[k] = sb.path(ef.Path)
		}
	}
	return out
}

func setOf(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}
