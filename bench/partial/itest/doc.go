// Package itest holds composegen's fixtures for the per-test readiness
// benchmark's stack, generated from ../compose.yaml.
package itest

//go:generate go tool composegen -f ../compose.yaml
