package cli

import (
	"errors"
	"io"
	"math"
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// gcSettings reads the collector's percent and soft memory limit.
func gcSettings() (percent int, limit int64) {
	percent = debug.SetGCPercent(100)
	debug.SetGCPercent(percent)
	return percent, debug.SetMemoryLimit(-1)
}

// resetGC sets the runtime's defaults and restores the settings found
// when the test ends.
func resetGC(t *testing.T) {
	t.Helper()
	p, l := gcSettings()
	t.Cleanup(func() { debug.SetGCPercent(p); debug.SetMemoryLimit(l) })
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
}

func TestBatchGC(t *testing.T) {
	for _, tc := range []struct {
		name        string
		env         map[string]string
		wantPercent int
		wantLimit   int64
	}{
		{"defaults", nil, batchGCPercent, batchMemoryLimit},
		{"user's GOGC", map[string]string{"GOGC": "50"}, 100, math.MaxInt64},
		{"user's GOGC=off", map[string]string{"GOGC": "off"}, 100, math.MaxInt64},
		{"user's GOMEMLIMIT", map[string]string{"GOMEMLIMIT": "2GiB"}, 100, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resetGC(t)
			batchGC(func(k string) string { return tc.env[k] }, noCgroupLimit)
			if p, l := gcSettings(); p != tc.wantPercent || l != tc.wantLimit {
				t.Errorf("GC percent %d, memory limit %d; want %d, %d", p, l, tc.wantPercent, tc.wantLimit)
			}
		})
	}
}

func noCgroupLimit() (uint64, error) { return 0, errors.New("no limit") }

// TestBatchLimit: the soft limit is 90 % of a cgroup's memory limit when
// that is below batchMemoryLimit (a 512 MiB container: ~460 MiB), else
// batchMemoryLimit; no cgroup limit, or none readable: batchMemoryLimit.
func TestBatchLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cgroup func() (uint64, error)
		want   int64
	}{
		{"no cgroup limit", noCgroupLimit, batchMemoryLimit},
		{"512 MiB container", func() (uint64, error) { return 512 << 20, nil }, 483183820 /* 0.9 × 512 MiB, rounded down */},
		{"8 GiB container", func() (uint64, error) { return 8 << 30, nil }, batchMemoryLimit},
		{"limit of 0 read", func() (uint64, error) { return 0, nil }, batchMemoryLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := batchLimit(tc.cgroup); got != tc.want {
				t.Errorf("limit %d, want %d", got, tc.want)
			}
		})
	}
	resetGC(t)
	batchGC(func(string) string { return "" }, func() (uint64, error) { return 256 << 20, nil })
	if _, l := gcSettings(); l != 241591910 /* 0.9 × 256 MiB */ {
		t.Errorf("memory limit %d in a 256 MiB container, want 90 %% of it", l)
	}
}

// TestServiceGC: the controller's soft limit is 90 % of its cgroup's
// memory limit, none without one, and the user's GOMEMLIMIT wins; its GC
// percent is never changed.
func TestServiceGC(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		cgroup func() (uint64, error)
		want   int64
	}{
		{"512 MiB container", nil, func() (uint64, error) { return 512 << 20, nil }, 483183820},
		{"no cgroup limit", nil, noCgroupLimit, math.MaxInt64},
		{"limit of 0 read", nil, func() (uint64, error) { return 0, nil }, math.MaxInt64},
		{"user's GOMEMLIMIT", map[string]string{"GOMEMLIMIT": "2GiB"}, func() (uint64, error) { return 512 << 20, nil }, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resetGC(t)
			set := serviceGC(func(k string) string { return tc.env[k] }, tc.cgroup)
			if p, l := gcSettings(); p != 100 || l != tc.want {
				t.Errorf("GC percent %d, memory limit %d; want 100, %d", p, l, tc.want)
			}
			if want := tc.want; (want == math.MaxInt64 && set != 0) || (want != math.MaxInt64 && set != want) {
				t.Errorf("returned %d", set)
			}
		})
	}
}

// TestBatchCommandsSetGC: render and translate run with the batch
// settings, also when they refuse their input.
func TestBatchCommandsSetGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	for _, command := range []string{"render", "translate"} {
		t.Run(command, func(t *testing.T) {
			resetGC(t)
			cmd := NewRootCmd()
			cmd.SetArgs([]string{command, "-f", "testdata/does-not-exist.yaml"})
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			if err := cmd.Execute(); err == nil {
				t.Fatal("no error for a missing file")
			}
			// The machine's own cgroup may lower the limit.
			if p, l := gcSettings(); p != batchGCPercent || l != batchLimit(memlimit.FromCgroup) {
				t.Errorf("GC percent %d, memory limit %d after %s; want %d, %d", p, l, command, batchGCPercent, batchLimit(memlimit.FromCgroup))
			}
		})
	}
}
