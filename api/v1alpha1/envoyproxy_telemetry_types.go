package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// ProxyTelemetry configures the data plane's access logs and metrics, with
// the reference implementation's fields (gateway.envoyproxy.io/v1alpha1)
// so that its manifests keep working. Fields berth does not implement are
// kept opaque and reported as unsupported.
type ProxyTelemetry struct {
	// AccessLog configures access logs. Unset: a JSON line per request on
	// the envoy container's stdout, in the reference's default field set.
	//
	// +optional
	AccessLog *ProxyAccessLog `json:"accessLog,omitempty"`
	// Metrics configures Envoy's metrics. Unset: Prometheus metrics are
	// served on the stats port.
	//
	// +optional
	Metrics *ProxyMetrics `json:"metrics,omitempty"`

	// Not implemented by berth (reported as unsupported when set).

	// +optional
	Tracing *apiextensionsv1.JSON `json:"tracing,omitempty"`
}

// ProxyAccessLog configures access logs.
type ProxyAccessLog struct {
	// Disable turns access logs off.
	//
	// +optional
	Disable *bool `json:"disable,omitempty"`
	// Settings replace the default access log (the default JSON format to
	// stdout).
	//
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	// +optional
	Settings []ProxyAccessLogSetting `json:"settings,omitempty"`
}

// ProxyAccessLogType is the component that writes an access log.
//
// +kubebuilder:validation:Enum=Listener;Route
type ProxyAccessLogType string

const (
	// ProxyAccessLogTypeListener logs at the listener: connections and
	// requests that fail before they reach a route.
	ProxyAccessLogTypeListener ProxyAccessLogType = "Listener"
	// ProxyAccessLogTypeRoute logs every request of the HTTP connection
	// managers.
	ProxyAccessLogTypeRoute ProxyAccessLogType = "Route"
)

// ProxyAccessLogSetting is one access log: a format and where it goes.
type ProxyAccessLogSetting struct {
	// Format of the lines (default: the reference's JSON fields).
	//
	// +optional
	Format *ProxyAccessLogFormat `json:"format,omitempty"`
	// Sinks receive the lines; berth implements File.
	//
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	Sinks []ProxyAccessLogSink `json:"sinks"`
	// Type selects the component that logs. Unset: every request of the
	// connection managers, and at the listener the requests that match no
	// route.
	//
	// +optional
	Type *ProxyAccessLogType `json:"type,omitempty"`

	// Not implemented by berth (CEL match conditions; reported as
	// unsupported when set).

	// +optional
	Matches *apiextensionsv1.JSON `json:"matches,omitempty"`
}

// ProxyAccessLogFormatType is how access log lines are formatted.
//
// +kubebuilder:validation:Enum=Text;JSON;Mix
type ProxyAccessLogFormatType string

const (
	// ProxyAccessLogFormatTypeText is a format string of Envoy command
	// operators.
	ProxyAccessLogFormatTypeText ProxyAccessLogFormatType = "Text"
	// ProxyAccessLogFormatTypeJSON is a JSON object whose values are
	// Envoy command operators.
	ProxyAccessLogFormatTypeJSON ProxyAccessLogFormatType = "JSON"
	// ProxyAccessLogFormatTypeMix is the reference's text-and-JSON format
	// for OpenTelemetry sinks; berth does not implement it.
	ProxyAccessLogFormatTypeMix ProxyAccessLogFormatType = "Mix"
)

// ProxyAccessLogFormat is the format of access log lines: Text needs text,
// JSON needs json.
type ProxyAccessLogFormat struct {
	// Type of the format.
	Type ProxyAccessLogFormatType `json:"type,omitempty"`
	// Text is an Envoy format string (a newline is added when it has
	// none).
	//
	// +optional
	Text *string `json:"text,omitempty"`
	// JSON maps field names to Envoy command operators.
	//
	// +optional
	JSON map[string]string `json:"json,omitempty"`
}

// ProxyAccessLogSinkType is where access log lines go.
//
// +kubebuilder:validation:Enum=ALS;File;OpenTelemetry
type ProxyAccessLogSinkType string

const (
	// ProxyAccessLogSinkTypeFile writes to a file (e.g. /dev/stdout).
	ProxyAccessLogSinkTypeFile ProxyAccessLogSinkType = "File"
	// ProxyAccessLogSinkTypeALS and ProxyAccessLogSinkTypeOpenTelemetry
	// send lines to a service; berth does not implement them.
	ProxyAccessLogSinkTypeALS           ProxyAccessLogSinkType = "ALS"
	ProxyAccessLogSinkTypeOpenTelemetry ProxyAccessLogSinkType = "OpenTelemetry"
)

// ProxyAccessLogSink is where access log lines go.
type ProxyAccessLogSink struct {
	// Type of the sink; berth implements File.
	Type ProxyAccessLogSinkType `json:"type,omitempty"`
	// File is the File sink.
	//
	// +optional
	File *FileEnvoyProxyAccessLog `json:"file,omitempty"`

	// Not implemented by berth (reported as unsupported when set).

	// +optional
	ALS *apiextensionsv1.JSON `json:"als,omitempty"`
	// +optional
	OpenTelemetry *apiextensionsv1.JSON `json:"openTelemetry,omitempty"`
}

// FileEnvoyProxyAccessLog is a File sink.
type FileEnvoyProxyAccessLog struct {
	// Path of the file: /dev/stdout or /dev/stderr (the envoy container's
	// root file system is read-only).
	//
	// +kubebuilder:validation:MinLength=1
	Path string `json:"path,omitempty"`
}

// ProxyMetrics configures Envoy's metrics.
type ProxyMetrics struct {
	// Prometheus configures the Prometheus endpoint (/stats/prometheus on
	// the stats port).
	//
	// +optional
	Prometheus *ProxyPrometheusProvider `json:"prometheus,omitempty"`

	// Not implemented by berth (reported as unsupported when set).

	// +optional
	Sinks *apiextensionsv1.JSON `json:"sinks,omitempty"`
	// +optional
	Matches *apiextensionsv1.JSON `json:"matches,omitempty"`
	// +optional
	EnableVirtualHostStats *apiextensionsv1.JSON `json:"enableVirtualHostStats,omitempty"`
	// +optional
	EnablePerEndpointStats *apiextensionsv1.JSON `json:"enablePerEndpointStats,omitempty"`
	// +optional
	EnableRequestResponseSizesStats *apiextensionsv1.JSON `json:"enableRequestResponseSizesStats,omitempty"`
	// +optional
	ClusterStatName *apiextensionsv1.JSON `json:"clusterStatName,omitempty"`
}

// ProxyPrometheusProvider configures the Prometheus endpoint.
type ProxyPrometheusProvider struct {
	// Disable removes the stats listener, its container port and the
	// scrape annotations.
	//
	// +optional
	Disable bool `json:"disable,omitempty"`

	// Not implemented by berth (reported as unsupported when set).

	// +optional
	Compression *apiextensionsv1.JSON `json:"compression,omitempty"`
}
