// Package version holds the build identity of the berth binary. The values
// are set at link time (see the Makefile) and fall back to the module build
// information, so `go install` and `go run` builds still say something true.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set with -ldflags "-X github.com/berth-gateway/berth/internal/version.Version=…".
var (
	// Version is the release version, e.g. v0.1.0; "dev" for local builds.
	Version = "dev"
	// Commit is the git commit the binary was built from.
	Commit = ""
)

// Info is the build identity printed by `berth version`.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build identity, filling the commit from the module's VCS
// stamp when the linker did not set it.
func Get() Info {
	commit := Commit
	if commit == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					commit = s.Value
				}
			}
		}
	}
	if commit == "" {
		commit = "unknown"
	}
	return Info{
		Version:   Version,
		Commit:    commit,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// String renders the identity on one line.
func (i Info) String() string {
	return fmt.Sprintf("berth %s (commit %s, %s, %s)", i.Version, i.Commit, i.GoVersion, i.Platform)
}

// Repository is berth's image repository, the Helm chart's default
// image.repository (a test holds the two together).
const Repository = "ghcr.io/berth-gateway/berth"

// Image is this binary's own image: Repository tagged with Version (a
// leading "v" dropped, as the chart's appVersion has none). The offline
// commands default the shutdown-manager image to it, so a bundle runs the
// berth that rendered it.
func Image() string {
	return Repository + ":" + strings.TrimPrefix(Version, "v")
}
