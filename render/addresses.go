package render

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Gateway spec.addresses. berth supports addresses of type IPAddress (the
// default type). A value is a static address, requested from the
// Gateway's Service according to its type:
//
//   - LoadBalancer: spec.loadBalancerIP, one address. Kubernetes deprecated
//     the field in favour of load-balancer specific annotations, which
//     berth cannot know (set them through the EnvoyProxy's
//     envoyService.annotations instead of spec.addresses); cloud providers,
//     MetalLB and the local allocator of berth's test cluster still honour
//     it. (Envoy Gateway uses spec.externalIPs, which makes kube-proxy
//     capture traffic to any IP on every node: not a load-balancer request,
//     and refused in clusters that deny external IPs.)
//   - ClusterIP: spec.clusterIP/clusterIPs, one address per IP family. A
//     Service's cluster IP cannot change once set.
//   - NodePort: none; such a Service is reached at its nodes' addresses.
//
// An empty value asks for an address of the type without naming one: the
// Service's address is assigned as without spec.addresses.
//
// An address berth cannot parse or whose type it does not support makes
// the Gateway not Accepted (UnsupportedAddress); one the Service type
// cannot take is AddressNotUsable (Accepted, not Programmed). Either way
// Render returns an *AddressError and nothing is applied.

// AddressError is a Gateway spec.addresses berth cannot honour.
type AddressError struct {
	// Reason is gwv1.GatewayReasonUnsupportedAddress (the Gateway is not
	// Accepted) or gwv1.GatewayReasonAddressNotUsable (not Programmed).
	Reason gwv1.GatewayConditionReason
	// Message says which address and why.
	Message string
}

func (e *AddressError) Error() string { return e.Message }

// RequestedAddresses are the static IP addresses of a Gateway's
// spec.addresses, in spec order (empty values and other types left out).
func RequestedAddresses(gw *gwv1.Gateway) []string {
	var out []string
	for _, a := range gw.Spec.Addresses {
		if (a.Type == nil || *a.Type == gwv1.IPAddressType) && a.Value != "" {
			if ip, err := netip.ParseAddr(a.Value); err == nil {
				out = append(out, ip.String())
			}
		}
	}
	return out
}

// requestAddresses sets the Gateway's static addresses on its Service.
func (b *builder) requestAddresses(s *corev1.Service) error {
	var ips []string
	for i, a := range b.gw.Spec.Addresses {
		typ := gwv1.IPAddressType
		if a.Type != nil {
			typ = *a.Type
		}
		if typ != gwv1.IPAddressType {
			return &AddressError{Reason: gwv1.GatewayReasonUnsupportedAddress,
				Message: fmt.Sprintf("%s spec.addresses[%d]: type %q is not supported (IPAddress is)", gatewayDesc(b.gw), i, typ)}
		}
		if a.Value == "" {
			continue // any address: the Service gets one as usual
		}
		ip, err := netip.ParseAddr(a.Value)
		if err != nil || ip.Zone() != "" {
			return &AddressError{Reason: gwv1.GatewayReasonUnsupportedAddress,
				Message: fmt.Sprintf("%s spec.addresses[%d]: %q is not an IP address", gatewayDesc(b.gw), i, a.Value)}
		}
		ips = append(ips, ip.String())
	}
	if len(ips) == 0 {
		return nil
	}
	notUsable := func(format string, args ...any) error {
		return &AddressError{Reason: gwv1.GatewayReasonAddressNotUsable, Message: gatewayDesc(b.gw) + " " + fmt.Sprintf(format, args...)}
	}
	switch s.Spec.Type {
	case corev1.ServiceTypeLoadBalancer:
		if len(ips) > 1 {
			return notUsable("spec.addresses: a LoadBalancer Service takes one requested address, not %d (%s)", len(ips), strings.Join(ips, ", "))
		}
		if s.Spec.LoadBalancerIP != "" && s.Spec.LoadBalancerIP != ips[0] {
			return notUsable("spec.addresses: %s conflicts with the EnvoyProxy's envoyService.loadBalancerIP %s", ips[0], s.Spec.LoadBalancerIP)
		}
		s.Spec.LoadBalancerIP = ips[0]
	case corev1.ServiceTypeClusterIP:
		if len(ips) > 2 || len(ips) == 2 && netip.MustParseAddr(ips[0]).Is4() == netip.MustParseAddr(ips[1]).Is4() {
			return notUsable("spec.addresses: a ClusterIP Service takes one address per IP family, not %s", strings.Join(ips, ", "))
		}
		s.Spec.ClusterIP, s.Spec.ClusterIPs = ips[0], ips
		if len(ips) == 2 {
			// One address per family: only a dual-stack Service holds both
			// (a single-stack cluster refuses it: AddressNotUsable).
			s.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyRequireDualStack)
		}
	default:
		return notUsable("spec.addresses: a %s Service is reached at its nodes' addresses and cannot take a requested address (%s)", s.Spec.Type, strings.Join(ips, ", "))
	}
	return nil
}
