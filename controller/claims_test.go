package controller

import (
	"context"
	"fmt"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// listReader is a client.Reader over one class and Gateways listed in the
// order given (a cache lists in no particular order).
type listReader struct {
	class *gwv1.GatewayClass
	gws   []gwv1.Gateway
}

func (r listReader) Get(_ context.Context, key client.ObjectKey, o client.Object, _ ...client.GetOption) error {
	c, ok := o.(*gwv1.GatewayClass)
	if !ok || key.Name != r.class.Name {
		return fmt.Errorf("unexpected get %T %s", o, key)
	}
	r.class.DeepCopyInto(c)
	return nil
}

func (r listReader) List(_ context.Context, l client.ObjectList, _ ...client.ListOption) error {
	gl, ok := l.(*gwv1.GatewayList)
	if !ok {
		return fmt.Errorf("unexpected list %T", l)
	}
	gl.Items = slices.Clone(r.gws)
	return nil
}

// TestClaimsBesideIsOrdered: the claims of the other Gateways come sorted
// whatever order the reader lists them in (they enter the render
// fingerprint: an order that changes would render and apply every time).
func TestClaimsBesideIsOrdered(t *testing.T) {
	class := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "berth"}, Spec: gwv1.GatewayClassSpec{ControllerName: "example.com/berth"}}
	var gws []gwv1.Gateway
	for _, name := range []string{"c", "a", "self", "d", "b"} {
		gws = append(gws, gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name},
			Spec: gwv1.GatewaySpec{GatewayClassName: "berth", Listeners: []gwv1.Listener{{Name: "http", Port: 8080, Protocol: gwv1.HTTPProtocolType}}}})
	}
	self := gws[2]
	reversed := slices.Clone(gws)
	slices.Reverse(reversed)
	var got [][]string
	for _, order := range [][]gwv1.Gateway{gws, reversed} {
		claims, err := ClaimsBeside(context.Background(), listReader{class: class, gws: order}, "example.com/berth", &self)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range claims {
			names = append(names, c.Gateway.Name)
		}
		got = append(got, names)
	}
	want := []string{"a", "b", "c", "d"}
	for _, g := range got {
		if !slices.Equal(g, want) {
			t.Errorf("claims of %v, want %v", g, want)
		}
	}
}
