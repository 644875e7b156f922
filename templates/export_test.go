package templates

// What the external tests (package templates_test) read of the package.
var (
	AdminSessions = adminSessions
	PoolSize      = pgPoolSize
	PoolPrefix    = pgPoolPrefix
	TemplateName  = templateName
)
