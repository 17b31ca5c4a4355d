package cli

import (
	"io"
	"math"
	"runtime/debug"
	"testing"
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
			batchGC(func(k string) string { return tc.env[k] })
			if p, l := gcSettings(); p != tc.wantPercent || l != tc.wantLimit {
				t.Errorf("GC percent %d, memory limit %d; want %d, %d", p, l, tc.wantPercent, tc.wantLimit)
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
			if p, l := gcSettings(); p != batchGCPercent || l != batchMemoryLimit {
				t.Errorf("GC percent %d, memory limit %d after %s; want %d, %d", p, l, command, batchGCPercent, batchMemoryLimit)
			}
		})
	}
}
