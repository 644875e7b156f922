package model

import (
	"fmt"
	"strconv"
	"strings"
)

// absence writes, for every service, when its Stack field is nil and what
// a method called on it then panics with. A stack instance does not run a
// service when none of its profiles is active (a service without profiles
// always runs) or when WithServices leaves it out (it starts the named
// services and their dependencies, whatever the profiles). The generated
// code only knows the field is nil, not which of the two happened, so the
// message names both for a service with profiles, and only WithServices
// for one without (the one way it can be absent).
func (b *builder) absence() {
	consts := map[string]string{}
	for _, p := range b.p.Profiles {
		consts[p.Name] = p.ConstName
	}
	for i := range b.p.Services {
		s := &b.p.Services[i]
		profiles := b.p.Plan.Services[i].Profiles
		add := fmt.Sprintf("%s(%s)", WithServicesFunc, s.ConstName)
		if len(profiles) == 0 {
			s.Absent = fmt.Sprintf("nil when [%s] leaves it out (its methods then panic, saying so).", WithServicesFunc)
			s.AbsentPanic = fmt.Sprintf("composegen: %s.%s is nil: this stack instance does not run service %s because %s left it out; add %s to %s (or start the stack without %s)",
				StackType, s.TypeName, strconv.Quote(s.Name), WithServicesFunc, s.ConstName, WithServicesFunc, WithServicesFunc)
			continue
		}
		opts := make([]string, len(profiles))
		for j, p := range profiles {
			if c, ok := consts[p]; ok {
				opts[j] = fmt.Sprintf("%s(%s)", WithProfilesFunc, c)
			} else {
				// A profile written with a variable has no constant.
				opts[j] = fmt.Sprintf("runtime.WithProfiles(%s)", strconv.Quote(p))
			}
		}
		which := "profile " + strconv.Quote(profiles[0]) + ", which was not active"
		when := "its profile " + strconv.Quote(profiles[0]) + " is active"
		with := opts[0]
		if len(profiles) > 1 {
			which = "profiles " + quoteJoin(profiles) + ", none of which was active"
			when = "one of its profiles " + quoteJoin(profiles) + " is active"
			with = strings.Join(opts, " or ")
		}
		s.Absent = fmt.Sprintf("nil unless %s (%s) or [%s] names it (%s); its methods panic on nil, saying what starts it.",
			when, with, WithServicesFunc, add)
		s.AbsentPanic = fmt.Sprintf("composegen: %s.%s is nil: this stack instance does not run service %s: it has %s, or %s left it out; start the stack with %s, or add %s to %s",
			StackType, s.TypeName, strconv.Quote(s.Name), which, WithServicesFunc, with, s.ConstName, WithServicesFunc)
	}
}

func quoteJoin(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
