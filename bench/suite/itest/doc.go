// Package itest holds composegen's fixtures for the benchmark suite's
// stack, generated from ../compose.yaml.
package itest

//go:generate go tool composegen -f ../compose.yaml
