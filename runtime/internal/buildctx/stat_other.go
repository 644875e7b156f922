//go:build !linux

package buildctx

import "io/fs"

// statKey: without a change time that it knows how to read, nothing is
// memoized.
func statKey(p string, fi fs.FileInfo) (fileKey, bool) { return fileKey{}, false }
