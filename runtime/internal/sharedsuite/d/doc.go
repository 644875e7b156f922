// Package d is the package of the shared-stack suite that does not use the
// shared stack (see sharedsuite, killwatcher mode).
package d
