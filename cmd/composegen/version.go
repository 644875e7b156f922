package main

import (
	"runtime/debug"
)

const modulePath = "github.com/composegen/composegen"

// version returns composegen's module version, as recorded in generated
// files: the version of the composegen module the binary was built from
// (go tool, go run pkg@version, or go run of the dependency in a user's
// module), "(devel)" for a build of a checkout (its VCS-stamped version
// changes with every commit, and so would every generated file) or of a
// replaced module.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	return moduleVersion(bi)
}

func moduleVersion(bi *debug.BuildInfo) string {
	if bi.Main.Path == modulePath {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return "(devel)"
			}
		}
		return orDevel(bi.Main.Version)
	}
	for _, d := range bi.Deps {
		if d.Path != modulePath {
			continue
		}
		if d.Replace != nil {
			return orDevel(d.Replace.Version)
		}
		return orDevel(d.Version)
	}
	return "(devel)"
}

// orDevel returns v, or "(devel)" when it names no version: empty, or the
// zero pseudo-version that go get gives a replaced module.
func orDevel(v string) string {
	if v == "" || v == "v0.0.0-00010101000000-000000000000" {
		return "(devel)"
	}
	return v
}
