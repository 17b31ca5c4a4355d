package apply

import (
	"strings"
	"testing"
)

func TestDefaultOptionsAreValid(t *testing.T) {
	if err := DefaultOptions().validate(); err != nil {
		t.Fatal(err)
	}
}

func TestOptionsRejectUnboundedTimeoutsAndUnknownEnums(t *testing.T) {
	o := DefaultOptions()
	o.ReconcileTimeout = 0
	o.PruneTimeout = -1
	o.InventoryPolicy = "Sometimes"
	o.ValidationPolicy = ""
	o.FieldManager = ""
	err := o.validate()
	if err == nil {
		t.Fatal("invalid options accepted")
	}
	for _, want := range []string{"reconcile timeout", "prune timeout", `"Sometimes"`, "validation policy", "field manager"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
