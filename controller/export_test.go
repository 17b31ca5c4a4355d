package controller

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/render"
)

// RenderedConditions are the Gateway conditions the reconciler writes for
// the render of in, through its own pure steps (renderFacts, then
// gatewayStatus), for tests outside the package.
func RenderedConditions(in render.Input, opts render.Options) []metav1.Condition {
	f := gatewayFacts{Generation: in.Gateway.Generation}
	renderFacts(in, opts, &f)
	return gatewayStatus(gwv1.GatewayStatus{}, f, metav1.Time{}).Conditions
}
