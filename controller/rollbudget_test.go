package controller

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/render"
)

// renderedTemplateHash renders a Gateway as the controller does and returns
// the digest the roll budget compares, and the Deployment.
func renderedTemplateHash(t *testing.T, opts render.Options) (string, *unstructured.Unstructured) {
	t.Helper()
	class := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "berth"}, Spec: gwv1.GatewayClassSpec{ControllerName: gwv1.GatewayController(render.DefaultControllerName)}}
	gw := &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web", UID: "u1", Generation: 3},
		Spec:       gwv1.GatewaySpec{GatewayClassName: "berth", Listeners: []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}}},
	}
	opts.ControllerNamespace = "berth-system"
	opts.XDSHost = "berth-xds.berth-system.svc"
	opts.CABundle = []byte("ca")
	b, err := render.Render(render.Input{GatewayClass: class, Gateway: gw}, opts)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := b.Unstructured()
	if err != nil {
		t.Fatal(err)
	}
	dep := findObject(objs, "apps", "Deployment")
	if dep == nil {
		t.Fatal("no Deployment in the bundle")
	}
	tmpl, _, _ := unstructured.NestedMap(dep.Object, "spec", "template")
	return templateHash(tmpl), dep
}

// TestNoRollWithoutReason: a restart (a fresh render with the same
// options) or an option the pods do not run yields the same pod template
// digest, so the budget sees no roll and apply changes no template; a new
// shutdown-manager image (a berth upgrade) is a roll.
func TestNoRollWithoutReason(t *testing.T) {
	base := render.DefaultOptions()
	h1, _ := renderedTemplateHash(t, base)
	h2, _ := renderedTemplateHash(t, render.DefaultOptions())
	if h1 != h2 {
		t.Fatalf("same options, different pod templates: %s %s", h1, h2)
	}
	up := render.DefaultOptions()
	up.ShutdownManagerImage = "ghcr.io/berth-gateway/berth:next"
	if h3, _ := renderedTemplateHash(t, up); h3 == h1 {
		t.Fatal("a new shutdown-manager image did not change the pod template digest")
	}
}

func TestRollAnnotationsStayOffThePodTemplate(t *testing.T) {
	h, dep := renderedTemplateHash(t, render.DefaultOptions())
	setAnnotations(dep, map[string]string{annotationTemplateHash: h, "other": "x"})
	tmpl, _, _ := unstructured.NestedMap(dep.Object, "spec", "template")
	if templateHash(tmpl) != h {
		t.Fatal("annotating the Deployment changed its pod template")
	}
	if dep.GetAnnotations()[annotationTemplateHash] != h {
		t.Fatal("annotation not set")
	}
	setAnnotations(dep, map[string]string{"other": ""})
	if _, ok := dep.GetAnnotations()["other"]; ok {
		t.Fatal("empty value did not remove the annotation")
	}
}

func TestProgrammedCarriesRollNote(t *testing.T) {
	f := gatewayFacts{Generation: 1, RenderErr: nil, Roll: "pod template change queued by the roll budget (position 2 of 5)"}
	c := programmedCondition(f, true)
	if !strings.HasSuffix(c.Message, "; "+f.Roll) {
		t.Fatalf("message %q does not name the queued roll", c.Message)
	}
	if c := programmedCondition(f, false); strings.Contains(c.Message, "roll budget") {
		t.Fatalf("not accepted, yet a roll note: %q", c.Message)
	}
}

// A Deployment replacing pods of an older template is a roll; one scaling
// up, with a crashed pod or not yet observed by its controller is not.
func TestReplacingPods(t *testing.T) {
	dep := func(gen, observed, want, updated, total int64) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"spec":   map[string]any{"replicas": want},
			"status": map[string]any{"observedGeneration": observed, "updatedReplicas": updated, "replicas": total},
		}}
		u.SetGeneration(gen)
		return u
	}
	for _, c := range []struct {
		name                            string
		gen, observed, want, upd, total int64
		rolling                         bool
	}{
		{"old pods left", 2, 2, 1, 1, 2, true},
		{"new pods not all created", 2, 2, 3, 1, 3, true},
		{"all updated", 2, 2, 1, 1, 1, false},
		{"scaling up", 3, 3, 3, 3, 3, false},
		{"not observed yet", 3, 2, 1, 0, 1, false},
	} {
		if got := replacingPods(dep(c.gen, c.observed, c.want, c.upd, c.total)); got != c.rolling {
			t.Errorf("%s: replacingPods = %v, want %v", c.name, got, c.rolling)
		}
	}
}
