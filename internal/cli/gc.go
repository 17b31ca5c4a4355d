package cli

import (
	"os"
	"runtime/debug"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// The garbage collector's settings of the batch commands (render,
// translate): they build a heap that lives until the output is written and
// then exit, so collecting at every doubling of the live heap (GOGC=100)
// mostly re-marks memory that is still in use. Collecting at every
// tripling costs ~15 % less CPU for 10,000 routes (docs/benchmarks.md,
// "Eighth pass"), and the soft limit keeps the 50 MB input at ~1 GB of
// RSS, inside issue 16's 1.5 GB, by collecting more often near it. In a
// container the limit is at most 90 % of the cgroup's memory limit, so the
// larger GC percent cannot take a run the default would finish into the
// OOM killer. A live heap above the limit (inputs well beyond 50 MB) makes
// the collector run often, at most half the CPU (the runtime's cap); set
// GOGC or GOMEMLIMIT to choose otherwise.
const (
	batchGCPercent   = 200
	batchMemoryLimit = 1 << 30 // bytes
	// batchCgroupShare is the share of a cgroup's memory limit the soft
	// limit may reach (automemlimit's default ratio).
	batchCgroupShare = 0.9
)

// batchGC applies the batch commands' collector settings unless the user
// set either GOGC or GOMEMLIMIT (getenv is os.Getenv): then the runtime's
// settings, the user's, are left as they are. cgroupLimit is the memory
// limit of the process's cgroup (memlimit.FromCgroup; an error: none).
func batchGC(getenv func(string) string, cgroupLimit func() (uint64, error)) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(batchGCPercent)
	debug.SetMemoryLimit(batchLimit(cgroupLimit))
}

// batchLimit is the batch commands' soft memory limit: batchMemoryLimit,
// or batchCgroupShare of the cgroup's limit when that is lower.
func batchLimit(cgroupLimit func() (uint64, error)) int64 {
	limit := int64(batchMemoryLimit)
	if c, err := cgroupLimit(); err == nil && c > 0 {
		if share := cgroupShare(c); share < limit {
			limit = share
		}
	}
	return limit
}

// cgroupShare is batchCgroupShare of a cgroup memory limit of c bytes.
func cgroupShare(c uint64) int64 { return int64(float64(c) * batchCgroupShare) }

// batchGCFromEnv is batchGC with the process environment and cgroup.
func batchGCFromEnv() { batchGC(os.Getenv, memlimit.FromCgroup) }

// serviceGC sets the long-running controller's soft memory limit to
// batchCgroupShare of its cgroup's memory limit, unless the user set
// GOMEMLIMIT or there is no limit: the collector then works harder as the
// heap nears the container's limit (a fleet larger than the limit was sized
// for, a burst of new Gateways) rather than the process being OOM-killed.
// GOGC is left as it is: below the limit, memory per Gateway stays that of
// the default collector. It returns the limit set (0: none).
func serviceGC(getenv func(string) string, cgroupLimit func() (uint64, error)) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return 0
	}
	c, err := cgroupLimit()
	if err != nil || c == 0 {
		return 0
	}
	limit := cgroupShare(c)
	debug.SetMemoryLimit(limit)
	return limit
}
