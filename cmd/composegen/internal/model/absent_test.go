package model

import (
	"strings"
	"testing"
)

// TestAbsentMessages: the message of a method called on a nil service
// names the service, why a stack instance may not run it, and the typed
// option that adds it; the field's doc says when it is nil.
func TestAbsentMessages(t *testing.T) {
	p := mustBuild(t, `services:
  app:
    image: busybox
  psql:
    image: postgres:16
    profiles: [tools]
  debug-ui:
    image: nginx
    profiles: [tools, debug]
`)
	for _, tc := range []struct {
		service   string
		panicWant []string
		docWant   []string
	}{
		{"app",
			[]string{`Stack.App is nil`, `service "app"`, "WithServices left it out", "add ServiceApp to WithServices"},
			[]string{"nil when [WithServices] leaves it out"}},
		{"psql",
			[]string{`Stack.Psql is nil`, `service "psql"`, `profile "tools", which was not active`, "WithProfiles(ProfileTools)", "add ServicePsql to WithServices"},
			[]string{`its profile "tools" is active (WithProfiles(ProfileTools))`, "(WithServices(ServicePsql))"}},
		{"debug-ui",
			[]string{`Stack.DebugUI is nil`, `profiles "tools", "debug", none of which was active`, "WithProfiles(ProfileTools) or WithProfiles(ProfileDebug)", "add ServiceDebugUI to WithServices"},
			[]string{`one of its profiles "tools", "debug" is active`}},
	} {
		s, _ := svc(t, p, tc.service)
		for _, w := range tc.panicWant {
			if !strings.Contains(s.AbsentPanic, w) {
				t.Errorf("%s: panic message lacks %q:\n%s", tc.service, w, s.AbsentPanic)
			}
		}
		for _, w := range tc.docWant {
			if !strings.Contains(s.Absent, w) {
				t.Errorf("%s: field doc lacks %q:\n%s", tc.service, w, s.Absent)
			}
		}
		if tc.service == "app" && strings.Contains(s.AbsentPanic, "profile") {
			t.Errorf("app has no profile, but its message speaks of one:\n%s", s.AbsentPanic)
		}
	}
}
