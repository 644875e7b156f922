package lock

import (
	"os"
	"path/filepath"
	"strings"
)

// RemoveProjectDir removes the lock directory of a stack instance that is
// gone.
func RemoveProjectDir(project string) {
	if project != "" {
		_ = os.RemoveAll(ProjectDir(project))
	}
}

// Prune removes the lock, lease and failure files of the stack instances
// that are not on the engine any more (live lists the projects and
// liveKeys the shared keys it holds), or, with project, of that instance
// only. A file that a process holds (a test that runs) stays: each is
// removed under its own lock, and a lock is never taken on a removed file.
// It returns the paths it removed.
func Prune(live map[string]bool, liveKeys []string, project string) []string {
	root := Root()
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var removed []string
	// remove removes path when nobody holds it (its lock, or for a
	// failure file, the lock of its shared stack).
	remove := func(path, lockPath string) bool {
		f, err := tryLock(lockPath)
		if err != nil || f == nil {
			return false
		}
		defer unlockFile(f)
		if path != lockPath {
			if os.Remove(path) != nil {
				return false
			}
			removed = append(removed, path)
		}
		if os.Remove(lockPath) == nil {
			removed = append(removed, lockPath)
		}
		return true
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir() && strings.HasPrefix(name, "p-"):
			p := strings.TrimPrefix(name, "p-")
			if live[p] || project != "" && p != project {
				continue
			}
			dir := filepath.Join(root, name)
			files, _ := os.ReadDir(dir)
			for _, f := range files {
				if !f.IsDir() {
					remove(filepath.Join(dir, f.Name()), filepath.Join(dir, f.Name()))
				}
			}
			if os.Remove(dir) == nil {
				removed = append(removed, dir)
			}
		case strings.HasPrefix(name, "shared-") && (strings.HasSuffix(name, ".lock") || strings.HasSuffix(name, ".err")):
			k := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(name, "shared-"), ".lock"), ".err")
			if keyIsLive(k, liveKeys) || project != "" && !sharedProjectOf(project, k) {
				continue
			}
			lock := filepath.Join(root, "shared-"+k+".lock")
			if strings.HasSuffix(name, ".err") {
				remove(filepath.Join(root, name), lock)
			} else if _, err := os.Lstat(lock); err == nil {
				remove(lock, lock)
			}
		}
	}
	return removed
}

// keyIsLive reports whether the key prefix k (of a shared lock file's
// name) is the prefix of a shared stack's key on the engine.
func keyIsLive(k string, keys []string) bool {
	for _, key := range keys {
		if strings.HasPrefix(key, k) {
			return true
		}
	}
	return false
}

// sharedProjectOf reports whether project is the name of the shared stack
// whose key starts with k: runtime names a shared stack
// <name>-s<the key's first 12 characters> (its sharedProjectName).
func sharedProjectOf(project, k string) bool {
	i := strings.LastIndex(project, "-s")
	return i >= 0 && len(project)-i-2 == 12 && strings.HasPrefix(k, project[i+2:])
}
