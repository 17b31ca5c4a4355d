package controller

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/apply"
	"github.com/berth-gateway/berth/render"
)

// addressError returns err's *render.AddressError when it has the given
// reason (nil otherwise).
func addressError(err error, reason gwv1.GatewayConditionReason) *render.AddressError {
	var ae *render.AddressError
	if errors.As(err, &ae) && ae.Reason == reason {
		return ae
	}
	return nil
}

// addressesUnusable says why the Gateway's requested addresses
// (spec.addresses) cannot be used, "" when nothing says so: the API server
// refused the Service that requests them (a cluster IP outside the service
// range, or taken), or the Service got other addresses than the requested
// ones (a load balancer that assigned another). A load balancer that has
// not assigned any address yet is AddressNotAssigned, not this.
func addressesUnusable(f gatewayFacts) string {
	if len(f.Requested) == 0 {
		return ""
	}
	for _, o := range f.Failed {
		if o.Ref.Kind == "Service" && o.Ref.Group == "" && o.Action == apply.ActionFailed {
			return fmt.Sprintf("Service %s/%s requesting %s: %s", o.Ref.Namespace, o.Ref.Name, strings.Join(f.Requested, ", "), o.Reason)
		}
	}
	got := serviceAddresses(f.Service)
	if len(got) == 0 {
		return ""
	}
	var missing []string
	for _, ip := range f.Requested {
		if !slices.ContainsFunc(got, func(a gwv1.GatewayStatusAddress) bool { return a.Value == ip }) {
			missing = append(missing, ip)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	values := make([]string, 0, len(got))
	for _, a := range got {
		values = append(values, a.Value)
	}
	return fmt.Sprintf("Service %s/%s has %s, not the requested %s", f.Service.Namespace, f.Service.Name, strings.Join(values, ", "), strings.Join(missing, ", "))
}
