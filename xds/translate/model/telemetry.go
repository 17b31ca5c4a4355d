package model

// AccessLog is one access log: where its lines go, their format, and
// which requests it logs.
type AccessLog struct {
	// Path is the file the lines are written to (/dev/stdout: the
	// container's log).
	Path string
	// Text is an Envoy format string ending in a newline; when it is
	// empty, JSON is the format.
	Text string
	// JSON maps field names to Envoy command operators; each line is a
	// JSON object.
	JSON map[string]string
	// NoRouteOnly logs only what matched no route or no filter chain
	// (Envoy's response flag NR): the listener-level log of the requests
	// the connection managers' logs do not see.
	NoRouteOnly bool
}

// DefaultAccessLogPath is where access logs go by default: the envoy
// container's standard output.
const DefaultAccessLogPath = "/dev/stdout"

// DefaultAccessLogJSON is the default access log format: the reference
// implementation's default JSON fields (Envoy Gateway, "Proxy Access
// Logs"), so that dashboards and log pipelines built for it keep working.
func DefaultAccessLogJSON() map[string]string {
	return map[string]string{
		"start_time":                        "%START_TIME%",
		"method":                            "%REQ(:METHOD)%",
		"x-envoy-origin-path":               "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
		"protocol":                          "%PROTOCOL%",
		"response_code":                     "%RESPONSE_CODE%",
		"response_flags":                    "%RESPONSE_FLAGS%",
		"response_code_details":             "%RESPONSE_CODE_DETAILS%",
		"connection_termination_details":    "%CONNECTION_TERMINATION_DETAILS%",
		"upstream_transport_failure_reason": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
		"bytes_received":                    "%BYTES_RECEIVED%",
		"bytes_sent":                        "%BYTES_SENT%",
		"duration":                          "%DURATION%",
		"x-envoy-upstream-service-time":     "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
		"x-forwarded-for":                   "%REQ(X-FORWARDED-FOR)%",
		"user-agent":                        "%REQ(USER-AGENT)%",
		"x-request-id":                      "%REQ(X-REQUEST-ID)%",
		":authority":                        "%REQ(:AUTHORITY)%",
		"upstream_host":                     "%UPSTREAM_HOST%",
		"upstream_cluster":                  "%UPSTREAM_CLUSTER%",
		"upstream_local_address":            "%UPSTREAM_LOCAL_ADDRESS%",
		"downstream_local_address":          "%DOWNSTREAM_LOCAL_ADDRESS%",
		"downstream_remote_address":         "%DOWNSTREAM_REMOTE_ADDRESS%",
		"requested_server_name":             "%REQUESTED_SERVER_NAME%",
		"route_name":                        "%ROUTE_NAME%",
	}
}
