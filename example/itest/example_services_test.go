package itest_test

import "github.com/composegen/composegen/example/itest"

// Start a service and the services it depends on, nothing else, by typed
// name (a misspelt service does not compile):
//
//	stack := itest.Start(t, itest.WithServices(itest.ServicePostgres))
//	// stack.Postgres is ready; stack.Redis is nil.
func ExampleWithServices() {
	opt := itest.WithServices(itest.ServicePostgres)
	_ = opt // pass it to itest.Start or itest.Up
}
