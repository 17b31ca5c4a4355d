package cli

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/berth-gateway/berth/internal/manifest"
)

// inputFlags are -f and -R, the same on every offline command: -f takes
// files, directories (their *.yaml, *.yml and *.json files, in name order;
// with -R also those of every subdirectory) and "-" for stdin (at most
// once), in the order given.
type inputFlags struct {
	files     []string
	recursive bool
	// validate checks objects of custom resource kinds against their CRDs
	// as the apiserver would (schema.go).
	validate bool
}

func (f *inputFlags) bind(fs *pflag.FlagSet) {
	fs.StringArrayVarP(&f.files, "filename", "f", nil, `manifest file, directory, or "-" for stdin; repeatable`)
	fs.BoolVarP(&f.recursive, "recursive", "R", false, "read the directories given with -f recursively")
	fs.BoolVar(&f.validate, "validate", true, "refuse objects the apiserver would refuse (CRD schema and CEL rules of the Gateway API and berth kinds read); false skips this check, as kubectl --validate=false")
}

// manifestExts are the file name endings read from a directory.
var manifestExts = []string{".yaml", ".yml", ".json"}

// paths expands -f into the files to read, in order.
func (f *inputFlags) paths() ([]string, error) {
	if len(f.files) == 0 {
		return nil, usageErrorf("no input: give -f FILE or DIRECTORY (or -f - for stdin)")
	}
	var out []string
	for _, name := range f.files {
		if name == "-" {
			out = append(out, name)
			continue
		}
		st, err := os.Stat(name)
		if err != nil {
			return nil, usageError(err)
		}
		if !st.IsDir() {
			out = append(out, name)
			continue
		}
		var found []string
		err = filepath.WalkDir(name, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != name && !f.recursive {
					return filepath.SkipDir
				}
				return nil
			}
			for _, ext := range manifestExts {
				if strings.HasSuffix(strings.ToLower(p), ext) {
					found = append(found, p)
					break
				}
			}
			return nil
		})
		if err != nil {
			return nil, usageError(err)
		}
		if len(found) == 0 {
			return nil, usageErrorf("%s: no %s files", name, strings.Join(manifestExts, ", "))
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// read decodes the input and warns on warn about every object the command
// ignores: unknown kinds (with a hint when only the case differs from a
// kind berth reads) one by one, known kinds the command does not read by
// count.
func (f *inputFlags) read(stdin io.Reader, warn io.Writer, command string, reads ...string) (*manifest.Set, error) {
	paths, err := f.paths()
	if err != nil {
		return nil, err
	}
	set, err := manifest.ReadFiles(paths, stdin)
	if err != nil {
		if os.IsNotExist(err) || os.IsPermission(err) {
			return nil, usageError(err)
		}
		return nil, err
	}
	warnIgnored(set, warn, command, reads)
	// What the apiserver would refuse, refused as it words it (schema.go).
	if f.validate {
		if err := validateSchemas(set, paths, reads); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// setKinds are the kinds a manifest.Set decodes into typed fields, with
// how many it holds.
func setKinds(s *manifest.Set) []struct {
	kind string
	n    int
} {
	return []struct {
		kind string
		n    int
	}{
		{"GatewayClass", len(s.GatewayClasses)}, {"Gateway", len(s.Gateways)}, {"ListenerSet", len(s.ListenerSets)}, {"HTTPRoute", len(s.HTTPRoutes)},
		{"GRPCRoute", len(s.GRPCRoutes)}, {"TCPRoute", len(s.TCPRoutes)}, {"TLSRoute", len(s.TLSRoutes)}, {"UDPRoute", len(s.UDPRoutes)},
		{"ReferenceGrant", len(s.ReferenceGrants)}, {"EnvoyProxy", len(s.EnvoyProxies)},
		{"Service", len(s.Services)}, {"EndpointSlice", len(s.EndpointSlices)}, {"Secret", len(s.Secrets)},
		{"Namespace", len(s.Namespaces)}, {"ConfigMap", len(s.ConfigMaps)},
		{"BackendTLSPolicy", len(s.BackendTLSPolicies)}, {"ClientTrafficPolicy", len(s.ClientTrafficPolicies)},
	}
}

// berthGroups are the API groups whose kinds berth knows: an object of
// another kind in them is most likely a mistake.
var berthGroups = map[string]bool{"gateway.networking.k8s.io": true, "gateway.envoyproxy.io": true}

// warnIgnored reports what the command does not read: objects of an
// unknown kind in berth's API groups, or whose kind differs from a known
// one only in case, one by one with their position; the rest as one
// summary line of counts by kind.
func warnIgnored(s *manifest.Set, warn io.Writer, command string, reads []string) {
	read := map[string]bool{}
	for _, k := range reads {
		read[k] = true
	}
	counts := map[string]int{}
	for _, k := range setKinds(s) {
		if k.n > 0 && !read[k.kind] {
			counts[k.kind] += k.n
		}
	}
	for _, u := range s.Other {
		gvk := u.GroupVersionKind()
		hint := ""
		for _, k := range setKinds(s) {
			if strings.EqualFold(k.kind, gvk.Kind) {
				hint = fmt.Sprintf(" (did you mean kind %s?)", k.kind)
			}
		}
		if hint == "" && !berthGroups[gvk.Group] {
			counts[gvk.Kind+" ("+u.GetAPIVersion()+")"]++
			continue
		}
		name := u.GetName()
		if u.GetNamespace() != "" {
			name = u.GetNamespace() + "/" + name
		}
		fmt.Fprintf(warn, "warning: %s: ignored %s %s: apiVersion %s has no kind %s that berth reads%s\n",
			s.Origin(u), gvk.Kind, name, u.GetAPIVersion(), gvk.Kind, hint)
	}
	if len(counts) == 0 {
		return
	}
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %s", counts[k], k)
	}
	fmt.Fprintf(warn, "warning: berth %s does not read, and ignored: %s\n", command, strings.Join(parts, ", "))
}
