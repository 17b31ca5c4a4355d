package cli

import (
	"os"
	"runtime/debug"
)

// The garbage collector's settings of the batch commands (render,
// translate): they build a heap that lives until the output is written and
// then exit, so collecting at every doubling of the live heap (GOGC=100)
// mostly re-marks memory that is still in use. Collecting at every
// tripling costs ~15 % less CPU for 10,000 routes (docs/benchmarks.md,
// "Eighth pass"), and the soft limit keeps the 50 MB input at ~1 GB of
// RSS, inside issue 16's 1.5 GB, by collecting more often near it.
const (
	batchGCPercent   = 200
	batchMemoryLimit = 1 << 30 // bytes
)

// batchGC applies the batch commands' collector settings unless the user
// set either GOGC or GOMEMLIMIT (getenv is os.Getenv): then the runtime's
// settings, the user's, are left as they are.
func batchGC(getenv func(string) string) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(batchGCPercent)
	debug.SetMemoryLimit(batchMemoryLimit)
}

// batchGCFromEnv is batchGC with the process environment.
func batchGCFromEnv() { batchGC(os.Getenv) }
