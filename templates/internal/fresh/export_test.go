package fresh

// What the external tests (package fresh_test) read of the package.
var (
	AdminSessions = adminSessions
	PoolSize      = pgPoolSize
	PoolPrefix    = pgPoolPrefix
	TemplateName  = templateName
)

// CloseIdle closes this process's idle PostgreSQL administration sessions,
// so that the next FreshDSN needs a new connection.
func CloseIdle() {
	pgSessions.mu.Lock()
	defer pgSessions.mu.Unlock()
	for k, c := range pgSessions.idle {
		c.Close()
		delete(pgSessions.idle, k)
	}
}

// SetPoolSize sets the size of the pool of ready copies (while no test
// runs in parallel) and returns how to restore it.
func SetPoolSize(n int) (restore func()) {
	old := pgPoolSize
	pgPoolSize = n
	return func() { pgPoolSize = old }
}
