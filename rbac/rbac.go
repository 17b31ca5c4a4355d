package rbac

import (
	"errors"
	"fmt"
	"k8s.io/apimachinery/pkg/util/validation"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Scope says where a permission is granted.
type Scope string

const (
	// ScopeCluster: always in the ClusterRole.
	ScopeCluster Scope = "Cluster"
	// ScopeWatched: in the ClusterRole when berth watches every namespace,
	// else in a Role in each watched namespace.
	ScopeWatched Scope = "Watched"
	// ScopeSelf: in a Role in berth's own namespace.
	ScopeSelf Scope = "Self"
)

// Options describe one installation. Start from DefaultOptions.
type Options struct {
	// Name names the ClusterRole, ClusterRoleBinding and the Role in
	// Namespace; the Roles in watched namespaces are Name+"-watched".
	Name string
	// Namespace is berth's own namespace (ServiceAccount, Lease, TLS Secret).
	Namespace string
	// ServiceAccount is the controller's ServiceAccount in Namespace.
	ServiceAccount string
	// WatchNamespaces, when not empty, turns the ScopeWatched rules into
	// Roles in these namespaces (sorted, duplicates dropped). A namespace
	// label selector cannot be expressed in RBAC: use cluster-wide rules.
	WatchNamespaces []string
	// LeaderElectionID is the name of the leader election Lease.
	LeaderElectionID string
	// XDSTLSSecret is the name of the xDS TLS Secret in Namespace.
	XDSTLSSecret string
	// ExternalTLS: the xDS TLS Secret is provided, berth only reads it
	// (no create or update rights).
	ExternalTLS bool
}

// DefaultOptions returns the settings of a default installation: everything
// named berth in namespace berth-system, cluster-wide, with the controller's
// default Lease and Secret names.
func DefaultOptions() Options {
	return Options{
		Name:             "berth",
		Namespace:        "berth-system",
		ServiceAccount:   "berth",
		LeaderElectionID: "berth-controller",
		XDSTLSSecret:     "berth-xds-tls",
	}
}

// Validate reports every empty or invalid name (joined): namespaces must be
// DNS-1123 labels, as the apiserver requires.
func (o Options) Validate() error {
	var errs []error
	for _, f := range []struct{ name, v string }{
		{"name", o.Name}, {"namespace", o.Namespace}, {"service account", o.ServiceAccount},
		{"leader election id", o.LeaderElectionID}, {"xDS TLS secret", o.XDSTLSSecret},
	} {
		if f.v == "" {
			errs = append(errs, fmt.Errorf("rbac: %s is empty", f.name))
		}
	}
	if o.Namespace != "" {
		for _, msg := range validation.IsDNS1123Label(o.Namespace) {
			errs = append(errs, fmt.Errorf("rbac: namespace %q is invalid: %s", o.Namespace, msg))
		}
	}
	for _, ns := range o.WatchNamespaces {
		ns = strings.TrimSpace(ns)
		if ns == "" {
			errs = append(errs, errors.New("rbac: empty namespace in watch namespaces"))
			continue
		}
		for _, msg := range validation.IsDNS1123Label(ns) {
			errs = append(errs, fmt.Errorf("rbac: watch namespace %q is invalid: %s", ns, msg))
		}
	}
	return errors.Join(errs...)
}

// Set is the RBAC of one installation, in apply order.
type Set struct {
	ClusterRoles        []*rbacv1.ClusterRole
	ClusterRoleBindings []*rbacv1.ClusterRoleBinding
	Roles               []*rbacv1.Role
	RoleBindings        []*rbacv1.RoleBinding
}

// Objects returns every object: cluster roles and bindings, then the Role
// and RoleBinding of each namespace, namespaces in order.
func (s Set) Objects() []metav1.Object {
	var out []metav1.Object
	for _, r := range s.ClusterRoles {
		out = append(out, r)
	}
	for _, b := range s.ClusterRoleBindings {
		out = append(out, b)
	}
	for i, r := range s.Roles {
		out = append(out, r, s.RoleBindings[i])
	}
	return out
}

// WatchedNamespaces returns o.WatchNamespaces trimmed, sorted and without
// duplicates: the namespaces that get a Role.
func (o Options) WatchedNamespaces() []string {
	var out []string
	for _, ns := range o.WatchNamespaces {
		out = append(out, strings.TrimSpace(ns))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Rules returns the rules of one scope, in declared order.
func Rules(scope Scope, o Options) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, p := range Permissions(o) {
		if p.Scope == scope {
			out = append(out, p.Rule)
		}
	}
	return out
}

// Build returns the RBAC of the installation o describes.
func Build(o Options) (Set, error) {
	if err := o.Validate(); err != nil {
		return Set{}, err
	}
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: o.ServiceAccount, Namespace: o.Namespace}}
	watched := o.WatchedNamespaces()

	clusterRules := Rules(ScopeCluster, o)
	if len(watched) == 0 {
		clusterRules = append(clusterRules, Rules(ScopeWatched, o)...)
	}
	var s Set
	s.ClusterRoles = []*rbacv1.ClusterRole{{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name},
		Rules:      clusterRules,
	}}
	s.ClusterRoleBindings = []*rbacv1.ClusterRoleBinding{{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: o.Name},
		Subjects:   subjects,
	}}
	s.addRole(o.Name, o.Namespace, Rules(ScopeSelf, o), subjects)
	for _, ns := range watched {
		s.addRole(o.Name+"-watched", ns, Rules(ScopeWatched, o), subjects)
	}
	return s, nil
}

func (s *Set) addRole(name, namespace string, rules []rbacv1.PolicyRule, subjects []rbacv1.Subject) {
	s.Roles = append(s.Roles, &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "Role"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Rules:      rules,
	})
	s.RoleBindings = append(s.RoleBindings, &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   slices.Clone(subjects),
	})
}
