package localcluster

import (
	"strings"
	"testing"
)

// With $BERTH_NO_CLUSTER=1 (make unit) Start refuses before doing anything.
func TestStartRefusesWithNoCluster(t *testing.T) {
	t.Setenv(NoClusterEnv, "1")
	c, err := Start(t.Context(), Options{})
	if err == nil || c != nil || !strings.Contains(err.Error(), NoClusterEnv+"=1") {
		t.Fatalf("Start with %s=1: %v, %v", NoClusterEnv, c, err)
	}
}
