// Package f is a package of the shared-stack suite whose test needs the
// whole stack, the slow broker included (see sharedsuite.RunFull).
package f
