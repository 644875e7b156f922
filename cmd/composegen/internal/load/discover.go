package load

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultFileNames are the compose file names discovered when no file is
// given, in docker compose's order of preference.
var DefaultFileNames = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// DefaultOverrideFileNames are the override files docker compose adds to a
// discovered compose file, in order of preference.
var DefaultOverrideFileNames = []string{"compose.override.yaml", "compose.override.yml", "docker-compose.override.yaml", "docker-compose.override.yml"}

// ErrNoComposeFile is returned when discovery finds no compose file.
var ErrNoComposeFile = errors.New("no compose file found")

// Discover finds the compose file and its override in dir or the nearest
// parent that has one, exactly like docker compose. When several names
// match, the first in DefaultFileNames order wins and a warning is returned.
func Discover(dir string) (files []string, warnings []string, err error) {
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	for d := dir; ; {
		found := existing(d, DefaultFileNames)
		if len(found) > 0 {
			if len(found) > 1 {
				warnings = append(warnings, fmt.Sprintf("found multiple compose files (%s), using %s", strings.Join(found, ", "), found[0]))
			}
			files = append(files, found[0])
			if ov := existing(d, DefaultOverrideFileNames); len(ov) > 0 {
				if len(ov) > 1 {
					warnings = append(warnings, fmt.Sprintf("found multiple override files (%s), using %s", strings.Join(ov, ", "), ov[0]))
				}
				files = append(files, ov[0])
			}
			return files, warnings, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return nil, warnings, fmt.Errorf("%w in %s or its parents (looked for %s; use -f FILE)", ErrNoComposeFile, dir, strings.Join(DefaultFileNames, ", "))
		}
		d = parent
	}
}

func existing(dir string, names []string) []string {
	var out []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			out = append(out, p)
		}
	}
	return out
}
