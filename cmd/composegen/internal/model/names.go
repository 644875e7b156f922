package model

import (
	"strconv"
	"strings"

	"github.com/composegen/composegen/cmd/composegen/internal/naming"
)

// The package-level names that every generated file declares.
const (
	// StackType is the typed stack, with one field per service.
	StackType = "Stack"
	// StartFunc starts the stack for a test; UpFunc for TestMain.
	StartFunc = "Start"
	UpFunc    = "Up"
	// SharedFunc returns the stack shared by every test of a go test run.
	SharedFunc = "Shared"
	// ServiceNameType names a service; ProfileType a profile.
	ServiceNameType = "ServiceName"
	ProfileType     = "Profile"
	// WithServicesFunc and WithProfilesFunc are the typed options.
	WithServicesFunc = "WithServices"
	WithProfilesFunc = "WithProfiles"
)

// GuardMethod is the unexported method of every service type that panics
// with Service.AbsentPanic when its receiver is nil; every other method
// calls it first. (Unexported, it cannot collide with a port or accessor
// method, all exported.)
const GuardMethod = "mustRun"

// StackMethods are the methods of Stack; no service field may take them.
var StackMethods = []string{"Down", "Runtime"}

// FixedMethods are the methods every service type has.
var FixedMethods = []string{"Env", "Healthcheck", "InternalAddr", "Replicas", "Service"}

// reservedTop reports whether id is a package-level name of the generated
// file, or a method of Stack (a service's field may not shadow it).
func reservedTop(id string) bool {
	switch id {
	case StackType, StartFunc, UpFunc, SharedFunc, ServiceNameType, ProfileType, WithServicesFunc, WithProfilesFunc:
		return true
	}
	for _, m := range StackMethods {
		if id == m {
			return true
		}
	}
	return false
}

// nameSet hands out unique identifiers in one scope (the package's top-level
// names, a type's method set). Resolution is deterministic: it depends only
// on the order of the requests.
type nameSet map[string]bool

// claim returns the first free of name and its alternatives, else the last
// of them followed by 2, 3, ...; the returned name is then taken.
func (s nameSet) claim(name string, alternatives ...string) string {
	for _, n := range append([]string{name}, alternatives...) {
		if !s[n] {
			s[n] = true
			return n
		}
	}
	base := name
	if len(alternatives) > 0 {
		base = alternatives[len(alternatives)-1]
	}
	for i := 2; ; i++ {
		if n := base + strconv.Itoa(i); !s[n] {
			s[n] = true
			return n
		}
	}
}

// assignTopNames gives every service its type, StartX, Env type and
// selector constant, and every profile its constant, in one package-level
// namespace. Types are assigned first, in name order (naming.Assign), so
// that a service keeps its natural type name whenever it can; a service
// whose name is reserved, or is another service's StartX, gets the suffix
// Service ("stack" → StackService).
func assignTopNames(services []Service, profiles []Profile) error {
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = s.Name
	}
	natural := map[string]bool{}
	for _, n := range names {
		natural[naming.Exported(n, "S")] = true
	}
	types, err := naming.Assign(names, func(s string) string { return naming.Exported(s, "S") }, func(id string) bool {
		if reservedTop(id) {
			return true
		}
		rest, ok := strings.CutPrefix(id, "Start")
		return ok && rest != "" && natural[rest]
	}, "Service")
	if err != nil {
		return err
	}
	top := nameSet{}
	for _, n := range []string{StackType, StartFunc, UpFunc, SharedFunc, ServiceNameType, ProfileType, WithServicesFunc, WithProfilesFunc} {
		top[n] = true
	}
	for i := range services {
		services[i].TypeName = top.claim(types[services[i].Name])
	}
	for i := range services {
		t := services[i].TypeName
		services[i].StartName = top.claim("Start"+t, "Start"+t+"Service")
	}
	for i := range services {
		t := services[i].TypeName
		services[i].EnvTypeName = top.claim(t+"Env", t+"Environment")
	}
	for i := range services {
		base := naming.Exported(services[i].Name, "S")
		services[i].ConstName = top.claim("Service"+base, "Service"+services[i].TypeName, "ServiceName"+base)
	}
	for i := range profiles {
		base := naming.Exported(profiles[i].Name, "P")
		profiles[i].ConstName = top.claim("Profile"+base, "ProfileName"+base)
	}
	return nil
}
