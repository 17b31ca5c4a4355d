package rbac

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/berth-gateway/berth/internal/golden"
)

// GoldenCases are the option sets whose output is kept in testdata; the
// berth rbac command's tests compare its output with the same files.
var goldenCases = map[string]func(*Options){
	"cluster":    func(*Options) {},
	"namespaced": func(o *Options) { o.WatchNamespaces = []string{"team-b", "team-a", " team-a"} },
	"external-tls": func(o *Options) {
		o.Namespace, o.ServiceAccount, o.ExternalTLS, o.XDSTLSSecret = "gateways", "gw-controller", true, "my-xds-tls"
	},
}

func marshal(t *testing.T, s Set) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, obj := range s.Objects() {
		data, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	for name, mutate := range goldenCases {
		t.Run(name, func(t *testing.T) {
			o := DefaultOptions()
			mutate(&o)
			s, err := Build(o)
			if err != nil {
				t.Fatal(err)
			}
			got := marshal(t, s)
			golden.Compare(t, filepath.Join("testdata", name+".yaml"), got)
		})
	}
}

func TestClusterWideHasEverythingInOneClusterRole(t *testing.T) {
	s, err := Build(DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.ClusterRoles) != 1 || len(s.Roles) != 1 || s.Roles[0].Namespace != "berth-system" {
		t.Fatalf("want one ClusterRole and one Role in berth-system, got %d and %v", len(s.ClusterRoles), s.Roles)
	}
	want := append(Rules(ScopeCluster, DefaultOptions()), Rules(ScopeWatched, DefaultOptions())...)
	if !slices.EqualFunc(s.ClusterRoles[0].Rules, want, ruleEqual) {
		t.Errorf("ClusterRole rules = %v, want cluster and watched rules", s.ClusterRoles[0].Rules)
	}
}

func TestNamespacedKeepsObjectRightsOutOfTheClusterRole(t *testing.T) {
	o := DefaultOptions()
	o.WatchNamespaces = []string{"team-b", "team-a", "team-a"}
	s, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.ClusterRoles[0].Rules {
		for _, res := range r.Resources {
			switch res {
			case "gatewayclasses", "gatewayclasses/status", "namespaces", "tokenreviews":
			default:
				t.Errorf("ClusterRole of a namespaced install grants %v on %s", r.Verbs, res)
			}
		}
	}
	var got []string
	for i, r := range s.Roles {
		b := s.RoleBindings[i]
		if b.Namespace != r.Namespace || b.RoleRef.Name != r.Name || b.RoleRef.Kind != "Role" {
			t.Errorf("RoleBinding %s/%s does not bind Role %s/%s", b.Namespace, b.Name, r.Namespace, r.Name)
		}
		if b.Subjects[0].Namespace != "berth-system" || b.Subjects[0].Name != "berth" {
			t.Errorf("RoleBinding %s/%s binds %v", b.Namespace, b.Name, b.Subjects)
		}
		got = append(got, r.Namespace+"/"+r.Name)
	}
	want := []string{"berth-system/berth", "team-a/berth-watched", "team-b/berth-watched"}
	if !slices.Equal(got, want) {
		t.Errorf("Roles = %v, want %v", got, want)
	}
}

// The rights that matter most are narrowed as far as RBAC allows: nothing
// deletes in bulk, nothing escalates, and Secret writes are confined to
// berth's own TLS Secret (create cannot carry a name).
func TestNoBroadRights(t *testing.T) {
	for _, ext := range []bool{false, true} {
		o := DefaultOptions()
		o.ExternalTLS = ext
		for _, p := range Permissions(o) {
			r := p.Rule
			if p.Why == "" {
				t.Errorf("rule %v has no reason", r)
			}
			for _, v := range r.Verbs {
				switch v {
				case "*", "deletecollection", "escalate", "bind", "impersonate":
					t.Errorf("rule %v grants %s", r, v)
				}
			}
			for _, res := range append(slices.Clone(r.Resources), r.APIGroups...) {
				if strings.Contains(res, "*") {
					t.Errorf("rule %v uses a wildcard", r)
				}
			}
			if slices.Contains(r.Resources, "secrets") && p.Scope != ScopeSelf && !slices.Equal(r.Verbs, []string{"list", "watch"}) {
				t.Errorf("Secret rule outside berth's namespace writes: %v", r)
			}
			if p.Scope == ScopeSelf && slices.Contains(r.Resources, "secrets") {
				named := len(r.ResourceNames) == 1 && r.ResourceNames[0] == o.XDSTLSSecret
				if !named && !slices.Equal(r.Verbs, []string{"create"}) {
					t.Errorf("Secret rule in berth's namespace is not narrowed to %s: %v", o.XDSTLSSecret, r)
				}
				if ext && slices.ContainsFunc(r.Verbs, func(v string) bool { return v != "get" && v != "watch" }) {
					t.Errorf("external TLS grants %v on Secrets", r.Verbs)
				}
			}
		}
	}
}

// Verbs are sorted within every rule so the output reads the same way
// everywhere.
func TestVerbsSorted(t *testing.T) {
	for _, p := range Permissions(DefaultOptions()) {
		if !slices.IsSorted(p.Rule.Verbs) || !slices.IsSorted(p.Rule.Resources) {
			t.Errorf("rule %v: verbs or resources not sorted", p.Rule)
		}
	}
}

func TestValidate(t *testing.T) {
	o := Options{WatchNamespaces: []string{" "}}
	_, err := Build(o)
	if err == nil {
		t.Fatal("Build accepted empty options")
	}
	for _, want := range []string{"name is empty", "namespace is empty", "service account is empty", "leader election id is empty", "xDS TLS secret is empty", "empty namespace"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func ruleEqual(a, b rbacv1.PolicyRule) bool {
	return slices.Equal(a.APIGroups, b.APIGroups) && slices.Equal(a.Resources, b.Resources) &&
		slices.Equal(a.Verbs, b.Verbs) && slices.Equal(a.ResourceNames, b.ResourceNames)
}
