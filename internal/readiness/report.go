package readiness

// This file is pure: the progress lines berth wait prints, one per change.

import (
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Stamp prefixes a progress line with the time since the wait started:
// "  3.2s Deployment envoy-…: InProgress (Available: 0/1)".
func Stamp(elapsed time.Duration, line string) string {
	return fmt.Sprintf("%5.1fs %s", elapsed.Seconds(), line)
}

// Changes returns one line for each thing that differs between prev (nil
// at the first observation) and next: the ListenerSet's (when waiting for
// one) and then the Gateway's existence, generation, deletion and each
// condition; whether the inventory exists and how many
// objects it lists; each bundle object's kstatus. Lines about the bundle
// start with prefix (set when waiting for several Gateways). The order is
// fixed: ListenerSet, Gateway, inventory, objects by kind and name.
func Changes(prev *Snapshot, next Snapshot, prefix string) []string {
	var out []string
	if next.Set != nil {
		var ps *Gateway
		if prev != nil && prev.Set != nil {
			ps = &prev.Set.Gateway
		}
		out = statusChanges("ListenerSet", ps, next.Set.Gateway)
	}
	g := next.Gateway
	var pg *Gateway
	if prev != nil {
		pg = &prev.Gateway
	}
	out = append(out, statusChanges("Gateway", pg, g)...)

	b, pb := next.Bundle, (*Bundle)(nil)
	if prev != nil {
		pb = &prev.Bundle
	}
	if g.Found {
		switch {
		case !b.InventoryFound && (pb == nil || pb.InventoryFound):
			out = append(out, prefix+"waiting for the bundle to be applied (no inventory ConfigMap "+b.Inventory.String()+" yet)")
		case b.InventoryFound && (pb == nil || !pb.InventoryFound || !sameSet(pb.Objects, b.Objects)):
			out = append(out, fmt.Sprintf("%sinventory %s lists %d objects", prefix, b.Inventory, len(b.Objects)))
		}
	}
	old := map[string]Object{}
	if pb != nil {
		for _, o := range pb.Objects {
			old[o.id()] = o
		}
	}
	for _, o := range sortedObjects(b.Objects) {
		if p, ok := old[o.id()]; !ok || p.Status != o.Status || p.Message != o.Message {
			out = append(out, prefix+objectLine(o))
		}
		delete(old, o.id())
	}
	gone := make([]Object, 0, len(old))
	for _, o := range old {
		gone = append(gone, o)
	}
	for _, o := range sortedObjects(gone) {
		out = append(out, prefix+o.String()+": no longer in the bundle")
	}
	return out
}

// statusChanges are the lines of what differs between the status of an
// object of kind (a Gateway or a ListenerSet) seen before (pg, nil at the
// first observation) and g: existence, generation, deletion, conditions.
func statusChanges(kind string, pg *Gateway, g Gateway) []string {
	var out []string
	name := kind + " " + g.Key.String()
	switch {
	case !g.Found && (pg == nil || pg.Found):
		out = append(out, name+": not found")
	case g.Found && pg != nil && !pg.Found:
		out = append(out, name+": created")
	}
	if g.Found && pg != nil && pg.Found && g.Generation != pg.Generation {
		out = append(out, fmt.Sprintf("%s: spec changed (generation %d)", name, g.Generation))
	}
	if g.Deleting && (pg == nil || !pg.Deleting) {
		out = append(out, name+": being deleted")
	}
	for _, c := range orderedConditions(g.Conditions) {
		var old *metav1.Condition
		if pg != nil {
			old = pg.Condition(c.Type)
		}
		if old == nil || !sameCondition(*old, pg.Fresh(old), c, g.Fresh(&c)) {
			out = append(out, name+": "+conditionLine(g, c))
		}
	}
	if pg != nil {
		for _, c := range orderedConditions(pg.Conditions) {
			if g.Condition(c.Type) == nil && g.Found {
				out = append(out, name+": condition "+c.Type+" removed")
			}
		}
	}
	return out
}

// conditionLine renders "Programmed=False (AddressNotAssigned) message",
// marking a condition of an older generation.
func conditionLine(g Gateway, c metav1.Condition) string {
	s := c.Type + "=" + string(c.Status)
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	if c.Message != "" {
		s += " " + c.Message
	}
	if !g.Fresh(&c) {
		s += fmt.Sprintf(" [stale: observedGeneration %d < generation %d]", c.ObservedGeneration, g.Generation)
	}
	return s
}

// objectLine renders "Deployment envoy-…: InProgress (Available: 0/1)".
func objectLine(o Object) string {
	s := o.String() + ": " + string(o.Status)
	switch {
	case o.Status == kstatus.NotFoundStatus:
		s += " (not created yet)"
	case o.Message != "":
		s += " (" + o.Message + ")"
	}
	return s
}

func sameCondition(a metav1.Condition, aFresh bool, b metav1.Condition, bFresh bool) bool {
	return a.Status == b.Status && a.Reason == b.Reason && a.Message == b.Message && aFresh == bFresh
}

// orderedConditions puts Accepted and Programmed first, then the rest by
// type.
func orderedConditions(cs []metav1.Condition) []metav1.Condition {
	rank := func(t string) int {
		switch {
		case strings.EqualFold(t, string(gwv1.GatewayConditionAccepted)):
			return 0
		case strings.EqualFold(t, string(gwv1.GatewayConditionProgrammed)):
			return 1
		}
		return 2
	}
	out := append([]metav1.Condition(nil), cs...)
	sort.SliceStable(out, func(i, j int) bool {
		if ri, rj := rank(out[i].Type), rank(out[j].Type); ri != rj {
			return ri < rj
		}
		return out[i].Type < out[j].Type
	})
	return out
}

func sameSet(a, b []Object) bool {
	if len(a) != len(b) {
		return false
	}
	ids := map[string]bool{}
	for _, o := range a {
		ids[o.id()] = true
	}
	for _, o := range b {
		if !ids[o.id()] {
			return false
		}
	}
	return true
}
