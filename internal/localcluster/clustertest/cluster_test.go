package clustertest

// Proof that the local cluster is a real control plane: workloads schedule
// and become Available, the endpointslice and garbage collectors run, the
// service-account token machinery signs and reviews tokens, and RBAC denies
// what it should.

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/berth-gateway/berth/internal/localcluster"
	"github.com/berth-gateway/berth/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestDeploymentAvailableWithEndpoints(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dep := createDeployment(ctx, t, env.Client, ns, "web", 3)
	svc, err := env.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: dep.Spec.Selector.MatchLabels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		t.Fatalf("Service got no cluster IP: %q", svc.Spec.ClusterIP)
	}

	waitAvailable(ctx, t, env.Client, ns, "web", 3)

	pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	var podIPs []string
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" {
			t.Errorf("pod %s is not scheduled", p.Name)
		}
		if p.Status.PodIP == "" {
			t.Errorf("pod %s has no IP", p.Name)
		}
		podIPs = append(podIPs, p.Status.PodIP)
	}
	if len(podIPs) != 3 {
		t.Fatalf("want 3 pods, have %d", len(podIPs))
	}
	slices.Sort(podIPs)
	if len(slices.Compact(slices.Clone(podIPs))) != 3 {
		t.Errorf("pod IPs are not distinct: %v", podIPs)
	}

	// The endpointslice controller lists exactly the ready pods' IPs.
	var sliceIPs []string
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		list, err := env.Client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=web",
		})
		if err != nil {
			return false, err
		}
		sliceIPs = sliceIPs[:0]
		for _, s := range list.Items {
			for _, ep := range s.Endpoints {
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					sliceIPs = append(sliceIPs, ep.Addresses...)
				}
			}
		}
		slices.Sort(sliceIPs)
		return slices.Equal(sliceIPs, podIPs), nil
	})
	if err != nil {
		t.Fatalf("EndpointSlices of Service web list %v, want the pod IPs %v: %v", sliceIPs, podIPs, err)
	}
}

func TestDeploymentDeletionCollectsReplicaSetsAndPods(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	createDeployment(ctx, t, env.Client, ns, "gc", 2)
	waitAvailable(ctx, t, env.Client, ns, "gc", 2)
	rs, err := env.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=gc"})
	if err != nil || len(rs.Items) == 0 {
		t.Fatalf("want a ReplicaSet owned by the Deployment, have %d (%v)", len(rs.Items), err)
	}

	// No propagation policy: the API's default for Deployments leaves the
	// dependents to the garbage collector, which is what is under test.
	if err := env.Client.AppsV1().Deployments(ns).Delete(ctx, "gc", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var left int
	err = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		rs, err := env.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=gc"})
		if err != nil {
			return false, err
		}
		pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=gc"})
		if err != nil {
			return false, err
		}
		left = len(rs.Items) + len(pods.Items)
		return left == 0, nil
	})
	if err != nil {
		t.Fatalf("%d ReplicaSets and pods of the deleted Deployment remain: %v", left, err)
	}
}

func TestTokenReviewHonoursAudience(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	const audience = "berth.dev/test-audience"
	token, err := env.Token(ctx, ns, "proxy", []string{audience}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	review := func(audiences ...string) *authenticationv1.TokenReview {
		t.Helper()
		r, err := env.Client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
			Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: audiences},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	ok := review(audience)
	if !ok.Status.Authenticated {
		t.Fatalf("token for %q rejected for that audience: %q", audience, ok.Status.Error)
	}
	if want := "system:serviceaccount:" + ns + ":proxy"; ok.Status.User.Username != want {
		t.Errorf("user %q, want %q", ok.Status.User.Username, want)
	}
	if !slices.Contains(ok.Status.Audiences, audience) {
		t.Errorf("review audiences %v lack %q", ok.Status.Audiences, audience)
	}

	if other := review("berth.dev/another-audience"); other.Status.Authenticated {
		t.Errorf("token for %q accepted for another audience as %q", audience, other.Status.User.Username)
	}
	// Without audiences the review uses the API server's own, which the
	// token was not issued for.
	if api := review(); api.Status.Authenticated {
		t.Errorf("token for %q accepted for the API server's audience", audience)
	}
	tampered := token[:len(token)-4] + "AAAA"
	if token[len(token)-4:] == "AAAA" {
		tampered = token[:len(token)-4] + "BBBB"
	}
	token = tampered
	if bad := review(audience); bad.Status.Authenticated {
		t.Error("a token with a tampered signature was accepted")
	}
}

func TestServiceAccountWithoutRightsIsForbidden(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	cs, err := kubernetes.NewForConfig(env.ServiceAccountConfig(t, ns, "nobody"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.AppsV1().Deployments(ns).Create(ctx, deployment("denied", 1), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("creating a Deployment as a ServiceAccount without rights: %v, want Forbidden", err)
	}
	// The identity is the ServiceAccount, not the admin, and it is not
	// merely unauthenticated: reading its own namespace's pods is equally
	// forbidden, while the discovery endpoints every authenticated user may
	// read answer.
	if _, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing pods without rights: %v, want Forbidden", err)
	}
	if _, err := cs.Discovery().ServerVersion(); err != nil {
		t.Errorf("an authenticated ServiceAccount cannot read the version: %v", err)
	}

	// The audit log names the ServiceAccount's refused request.
	if env.Cluster == nil {
		return
	}
	events, err := localcluster.ReadAudit(env.Cluster.AuditLog(), "system:serviceaccount:"+ns+":nobody")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		group, resource := e.Resource()
		if e.Verb == "create" && group == "apps" && resource == "deployments" && e.ResponseStatus != nil && e.ResponseStatus.Code == 403 {
			found = true
		}
	}
	if !found {
		t.Errorf("the audit log has no refused create of deployments by the ServiceAccount among %d events", len(events))
	}
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "app",
					Image: "registry.example/app:1",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				}}},
			},
		},
	}
}

func createDeployment(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string, replicas int32) *appsv1.Deployment {
	t.Helper()
	d, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(name, replicas), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func waitAvailable(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string, replicas int32) {
	t.Helper()
	var d *appsv1.Deployment
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var err error
		d, err = cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
				return d.Status.AvailableReplicas == replicas && d.Status.ObservedGeneration == d.Generation, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("Deployment %s/%s not Available with %d replicas (status %+v): %v", ns, name, replicas, d.Status, err)
	}
}
