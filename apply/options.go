package apply

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/cli-utils/pkg/inventory"
)

// InventoryPolicy says what the engine may do with an object that already exists in
// the cluster but does not carry this inventory's owning-inventory annotation.
type InventoryPolicy string

const (
	// PolicyMustMatch never adopts: an existing object that belongs to no inventory or
	// to another inventory is left untouched and reported as ActionSkipped.
	PolicyMustMatch InventoryPolicy = "MustMatch"
	// PolicyAdoptIfNoInventory adopts objects that belong to no inventory, but never
	// takes an object from another inventory.
	PolicyAdoptIfNoInventory InventoryPolicy = "AdoptIfNoInventory"
	// PolicyAdoptAll adopts any object, even one owned by another inventory.
	PolicyAdoptAll InventoryPolicy = "AdoptAll"
)

func (p InventoryPolicy) cliUtils() (inventory.Policy, error) {
	switch p {
	case PolicyMustMatch:
		return inventory.PolicyMustMatch, nil
	case PolicyAdoptIfNoInventory:
		return inventory.PolicyAdoptIfNoInventory, nil
	case PolicyAdoptAll:
		return inventory.PolicyAdoptAll, nil
	}
	return 0, fmt.Errorf("unknown inventory policy %q", string(p))
}

// ValidationPolicy says what a run does with an object that fails client-side
// validation (missing name, unknown kind, bad dependency annotation).
type ValidationPolicy string

const (
	// ValidationSkipInvalid reports each invalid object as ActionFailed and applies
	// the rest; an invalid object already in the inventory is kept there (not pruned).
	ValidationSkipInvalid ValidationPolicy = "SkipInvalid"
	// ValidationExitEarly fails the whole run before anything is written.
	ValidationExitEarly ValidationPolicy = "ExitEarly"
)

// Options configure an Engine. Build them from DefaultOptions and change what differs;
// New rejects unbounded timeouts.
type Options struct {
	// FieldManager is the server-side apply field manager every write uses.
	FieldManager string
	// ForceConflicts takes over fields another field manager changed, instead of
	// failing the object with a conflict. Every taken field is reported in
	// ObjectResult.Conflicts, so drift is never restored silently.
	ForceConflicts bool
	// InventoryPolicy decides whether existing objects that are not in this inventory
	// may be adopted. The default, PolicyMustMatch, never touches a stranger's object.
	InventoryPolicy InventoryPolicy
	// ValidationPolicy decides whether one invalid object fails the whole run.
	ValidationPolicy ValidationPolicy
	// ReconcileTimeout bounds how long a full Run waits for applied objects to become
	// Current. Objects still progressing when it expires are reported with their
	// status (for example InProgress); that is not a run error. Must be > 0 (cli-utils
	// treats 0 as "wait forever").
	ReconcileTimeout time.Duration
	// PruneTimeout bounds how long a Run waits for pruned objects to be gone.
	// Must be > 0.
	PruneTimeout time.Duration
	// DeleteTimeout bounds how long Destroy waits for deleted objects to be gone
	// (NotFound) before it removes the inventory. Must be > 0.
	DeleteTimeout time.Duration
	// ManagedLabelKey and ManagedLabelValue form a label stamped on every applied
	// object and every inventory ConfigMap. The engine's shared watches select on it
	// and Inventories lists by it, so the pair must be unique to this controller
	// (default app.kubernetes.io/managed-by=berth).
	ManagedLabelKey   string
	ManagedLabelValue string
	// Namespaces limits the shared watches and Inventories to these namespaces, for
	// a controller whose RBAC is namespaced; objects elsewhere are then never seen
	// (their status stays Unknown). Empty means cluster-wide watches.
	Namespaces []string
	// QPS and Burst set the client rate limit of the engine's shared clients when > 0
	// (client-go's own default of 5 QPS throttles concurrent runs badly).
	QPS   float32
	Burst int
	// Logger receives structured logs (zap through zapr, or any logr sink).
	// The zero value discards logs.
	Logger logr.Logger
}

// DefaultOptions returns the options berth runs with.
func DefaultOptions() Options {
	return Options{
		FieldManager:      "berth",
		ForceConflicts:    true,
		InventoryPolicy:   PolicyMustMatch,
		ValidationPolicy:  ValidationSkipInvalid,
		ReconcileTimeout:  time.Minute,
		PruneTimeout:      time.Minute,
		DeleteTimeout:     2 * time.Minute,
		ManagedLabelKey:   "app.kubernetes.io/managed-by",
		ManagedLabelValue: "berth",
		QPS:               50,
		Burst:             100,
		Logger:            logr.Discard(),
	}
}

// validate reports every problem with o at once.
func (o Options) validate() error {
	var errs []error
	if o.FieldManager == "" {
		errs = append(errs, errors.New("field manager is empty"))
	}
	if _, err := o.InventoryPolicy.cliUtils(); err != nil {
		errs = append(errs, err)
	}
	switch o.ValidationPolicy {
	case ValidationSkipInvalid, ValidationExitEarly:
	default:
		errs = append(errs, fmt.Errorf("unknown validation policy %q", string(o.ValidationPolicy)))
	}
	for _, t := range []struct {
		name string
		d    time.Duration
	}{
		{"reconcile timeout", o.ReconcileTimeout},
		{"prune timeout", o.PruneTimeout},
		{"delete timeout", o.DeleteTimeout},
	} {
		if t.d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive (0 would wait forever), got %s", t.name, t.d))
		}
	}
	if o.ManagedLabelKey == "" || o.ManagedLabelValue == "" {
		errs = append(errs, errors.New("managed label key and value must be set"))
	}
	return errors.Join(errs...)
}
