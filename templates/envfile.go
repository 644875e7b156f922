package templates

import (
	"path"
	"strings"
)

// fileContent returns the content of file p of the service's container as
// the runtime read it when the stack started, with trailing newlines removed
// as the shell's $(< file) of the images' entrypoints does. ok is false when
// the file was not read (it is not named by one of the kind's _FILE
// variables, or p is not absolute).
func fileContent(s Service, p string) (content string, ok bool) {
	if !path.IsAbs(p) {
		return "", false
	}
	c, ok := s.File(p)
	if !ok {
		return "", false
	}
	return strings.TrimRight(c, "\n"), true
}

// envOrFile returns variable name as the official images' entrypoints
// resolve it (file_env): its value when set and non-empty, else the content
// of the file in the container named by name_FILE (trailing newlines
// trimmed), else "".
func envOrFile(s Service, name string) string {
	if v := s.Env(name); v != "" {
		return v
	}
	if p := s.Env(name + "_FILE"); p != "" {
		v, _ := fileContent(s, p)
		return v
	}
	return ""
}

// envOrFileDefault is envOrFile with a default for an empty result.
func envOrFileDefault(s Service, name, def string) string {
	if v := envOrFile(s, name); v != "" {
		return v
	}
	return def
}

// firstEnvOrFile is firstEnv where each name may also be given as a file by
// name_FILE.
func firstEnvOrFile(s Service, def string, names ...string) string {
	for _, n := range names {
		if v := envOrFile(s, n); v != "" {
			return v
		}
	}
	return def
}

// minioEnv resolves one of MinIO's credentials as MinIO does at start-up:
// when name_FILE is set and names a readable file (a path, or the name of a
// Docker secret under /run/secrets), its content with surrounding white
// space trimmed wins over the variable; otherwise the variable's value.
func minioEnv(s Service, name string) string {
	if p := s.Env(name + "_FILE"); p != "" {
		if v, ok := s.File(SecretPath(p)); ok {
			return strings.TrimSpace(v)
		}
	}
	return s.Env(name)
}

// SecretPath is the path in the container of a _FILE variable's value: an
// absolute path as it is, else the name of a secret under /run/secrets. The
// runtime reads the files of a kind's FileEnv variables at this path.
func SecretPath(p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join("/run/secrets", p)
}
