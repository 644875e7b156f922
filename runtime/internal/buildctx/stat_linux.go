//go:build linux

package buildctx

import (
	"io/fs"
	"syscall"
)

func statKey(p string, fi fs.FileInfo) (fileKey, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, false
	}
	return fileKey{path: p, dev: uint64(st.Dev), ino: uint64(st.Ino), size: fi.Size(),
		mtime: fi.ModTime().UnixNano(), ctimes: int64(st.Ctim.Sec)*1e9 + int64(st.Ctim.Nsec)}, true
}
