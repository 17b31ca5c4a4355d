package dataplane

import "testing"

func TestContainerPort(t *testing.T) {
	for _, tc := range []struct{ port, offset, want int32 }{
		{80, DefaultPrivilegedPortOffset, 10080},
		{1023, DefaultPrivilegedPortOffset, 11023},
		{1024, DefaultPrivilegedPortOffset, 1024},
		{8080, DefaultPrivilegedPortOffset, 8080},
		{80, 0, 80}, // 0 is an offset like any other
		{443, 8000, 8443},
		{1023, MaxPrivilegedPortOffset, 65535},
	} {
		if got := ContainerPort(tc.port, tc.offset); got != tc.want {
			t.Errorf("ContainerPort(%d, %d) = %d, want %d", tc.port, tc.offset, got, tc.want)
		}
	}
}

func TestCheckPrivilegedPortOffset(t *testing.T) {
	for _, ok := range []int32{0, 1, DefaultPrivilegedPortOffset, MaxPrivilegedPortOffset} {
		if err := CheckPrivilegedPortOffset(ok); err != nil {
			t.Errorf("offset %d: %v", ok, err)
		}
	}
	for _, bad := range []int32{-1, MaxPrivilegedPortOffset + 1} {
		if err := CheckPrivilegedPortOffset(bad); err == nil {
			t.Errorf("offset %d accepted", bad)
		}
	}
}

// The pod's own ports must stay out of reach of a privileged listener port
// under the default offset, or a Gateway on a well-known port could never
// start.
func TestReservedPortsAboveShiftedPrivilegedPorts(t *testing.T) {
	for _, p := range ReservedPorts {
		if p < 1024+DefaultPrivilegedPortOffset {
			t.Errorf("reserved port %d is a shifted privileged port", p)
		}
	}
}

func TestNodeCluster(t *testing.T) {
	if got := NodeCluster("team-a", "gateway-a"); got != "team-a/gateway-a" {
		t.Errorf("NodeCluster = %s", got)
	}
}

func TestServes(t *testing.T) {
	for p, want := range map[string]bool{"HTTP": true, "HTTPS": true, "TLS": true, "TCP": true, "UDP": true, "http": false, "tcp": false, "SCTP": false, "example.com/custom": false} {
		if got := Serves(p); got != want {
			t.Errorf("Serves(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestTransport(t *testing.T) {
	for p, want := range map[string]string{"UDP": "UDP", "TCP": "TCP", "TLS": "TCP", "HTTP": "TCP", "HTTPS": "TCP"} {
		if got := Transport(p); got != want {
			t.Errorf("Transport(%q) = %q, want %q", p, got, want)
		}
	}
}
