// Package e is a package of the shared-stack suite whose tests need only
// PostgreSQL (see sharedsuite.RunPart).
package e
