// Package a is one package of the shared-stack suite (see sharedsuite).
package a
