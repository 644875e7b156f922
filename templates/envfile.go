package templates

import (
	"context"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/composegen/composegen/runtime"
)

// fileCache holds the files already read from containers, by container id
// and path: a secret does not change while its container lives, and an
// accessor such as DSN reads several variables.
var fileCache sync.Map // fileKey → string

type fileKey struct{ container, path string }

// readContainerFile returns the content of file p (absolute) in the
// service's running container, with trailing newlines removed as the shell's
// $(< file) of the images' entrypoints does. ok is false when the service has
// no container (NewTestService) or the file cannot be read.
func readContainerFile(s *runtime.Service, p string) (content string, ok bool) {
	id := s.ContainerID()
	if id == "" || !path.IsAbs(p) {
		return "", false
	}
	key := fileKey{id, p}
	if v, ok := fileCache.Load(key); ok {
		return v.(string), true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := s.CopyFrom(ctx, p)
	if err != nil {
		return "", false
	}
	content = strings.TrimRight(string(b), "\n")
	fileCache.Store(key, content)
	return content, true
}

// envOrFile returns variable name as the official images' entrypoints
// resolve it (file_env): its value when set and non-empty, else the content
// of the file in the container named by name_FILE (trailing newlines
// trimmed), else "". The file is read from the running container; when that
// fails (a service without a container, an unreadable path) the result is "".
func envOrFile(s *runtime.Service, name string) string {
	if v := s.Env(name); v != "" {
		return v
	}
	if p := s.Env(name + "_FILE"); p != "" {
		v, _ := readContainerFile(s, p)
		return v
	}
	return ""
}

// envOrFileDefault is envOrFile with a default for an empty result.
func envOrFileDefault(s *runtime.Service, name, def string) string {
	if v := envOrFile(s, name); v != "" {
		return v
	}
	return def
}

// firstEnvOrFile is firstEnv where each name may also be given as a file by
// name_FILE.
func firstEnvOrFile(s *runtime.Service, def string, names ...string) string {
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
func minioEnv(s *runtime.Service, name string) string {
	if p := s.Env(name + "_FILE"); p != "" {
		if !path.IsAbs(p) {
			p = "/run/secrets/" + p
		}
		if v, ok := readContainerFile(s, p); ok {
			return strings.TrimSpace(v)
		}
	}
	return s.Env(name)
}
