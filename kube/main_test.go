package kube

import (
	"flag"
	"os"
	goruntime "runtime"
	"strconv"
	"testing"
)

// TestMain lets up to 6 tests run at once when -test.parallel is left at
// its default (GOMAXPROCS, 2 here): the tests wait on the cluster (pods
// scheduled, images unpacked, probes) far more than they use the CPU.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.parallel"); f != nil && f.Value.String() == strconv.Itoa(goruntime.GOMAXPROCS(0)) && goruntime.GOMAXPROCS(0) < 6 {
		_ = flag.Set("test.parallel", "6")
	}
	os.Exit(m.Run())
}
