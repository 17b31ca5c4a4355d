package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// cpuSample is the CPU time (user + system) of each process a scale run
// watches, by name: the local cluster's components (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok), the controller when it is
// a process of its own, and the test process.
type cpuSample map[string]time.Duration

// procCPU reads a process's CPU time (user + system) from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// utime and stime are the 14th and 15th fields, the 12th and 13th
	// after the command name (which may hold spaces) in parentheses; in
	// clock ticks of 1/100 s (USER_HZ on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// sampleCPU reads the CPU time of the cluster's components (none when the
// tests joined a cluster they did not start), of the controller process
// (proc, may be nil) and of the test process.
func (h *harness) sampleCPU(proc *controllerProcess) cpuSample {
	s := cpuSample{}
	if c := h.env.Cluster; c != nil {
		for name, pid := range c.PIDs() {
			if d, err := procCPU(pid); err == nil {
				s[name] = d
			}
		}
	}
	if proc != nil {
		if d, err := procCPU(proc.cmd.Process.Pid); err == nil {
			s["berth controller"] = d
		}
	}
	if d, err := procCPU(os.Getpid()); err == nil {
		name := "test process"
		if proc == nil {
			name = "test process (with any in-process controller)"
		}
		s[name] = d
	}
	return s
}

// cpuTable is the CPU each process used between before and after, in all and
// per unit (n units, e.g. Gateways), largest first, with the sum.
func cpuTable(before, after cpuSample, n int) string {
	type row struct {
		name string
		d    time.Duration
	}
	var (
		rows []row
		sum  time.Duration
	)
	for name, a := range after {
		d := a - before[name]
		rows = append(rows, row{name, d})
		sum += d
	}
	slices.SortFunc(rows, func(a, b row) int {
		if a.d != b.d {
			return int(b.d - a.d)
		}
		return strings.Compare(a.name, b.name)
	})
	per := func(d time.Duration) string {
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000/float64(n))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s in all, %s per unit", sum.Round(10*time.Millisecond), per(sum))
	for _, r := range rows {
		fmt.Fprintf(&b, "\n  %-26s %9s  %s", r.name, r.d.Round(10*time.Millisecond), per(r.d))
	}
	return b.String()
}

// apiserverProfile, when BERTH_SCALE_APISERVER_PROFILE names a folder,
// takes a CPU profile of kube-apiserver (its /debug/pprof/profile, admin
// only) for BERTH_SCALE_PROFILE_SECONDS (default 20) from now, written to
// FOLDER/NAME.pprof; the returned wait blocks until it is written. Profile
// windows of the same length at the same point of each phase compare the
// phases.
func (h *harness) apiserverProfile(name string) (wait func()) {
	t := h.t
	dir := os.Getenv("BERTH_SCALE_APISERVER_PROFILE")
	if dir == "" {
		return func() {}
	}
	secs := 20
	if v, err := strconv.Atoi(os.Getenv("BERTH_SCALE_PROFILE_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+60)*time.Second)
		defer cancel()
		b, err := h.env.Client.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").
			Param("seconds", strconv.Itoa(secs)).DoRaw(ctx)
		if err != nil {
			t.Errorf("kube-apiserver profile %s: %v", name, err)
			return
		}
		path := filepath.Join(dir, name+".pprof")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Errorf("kube-apiserver profile: %v", err)
			return
		}
		t.Logf("kube-apiserver CPU profile of %s (%d s): %s", name, secs, path)
	}()
	return wg.Wait
}
