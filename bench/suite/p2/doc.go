// Package p2 is one of the six test packages of the benchmark suite.
package p2
