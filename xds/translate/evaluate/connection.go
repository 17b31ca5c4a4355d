package evaluate

import (
	"fmt"
	"net/netip"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	customheaderv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/original_ip_detection/custom_header/v3"
)

// connectionManager decides what the HTTP connection manager does with a
// request before its route table sees it, in Envoy's order (HTTP/1.1):
//
//  1. the codec refuses (400) or drops request headers whose names hold an
//     underscore (common_http_protocol_options.headers_with_underscores_action);
//  2. the path is normalized (ConnectionManagerUtility::maybeNormalizePath):
//     escaped slashes (%2F, %5C, any case) first, per
//     path_with_escaped_slashes_action (400 for REJECT_REQUEST; a 307 to the
//     final path for UNESCAPE_AND_REDIRECT, 400 instead for gRPC), then
//     RFC 3986 dot segments (normalize_path), then merge_slashes;
//  3. the client address is found: a custom_header original IP detection
//     extension with reject_with_status answers that status (403 as berth
//     sets it) when its header holds no IP address;
//  4. an Upgrade request (Connection: upgrade) whose upgrade type is not in
//     upgrade_configs is refused with 403, before routing.
//
// Before all of them the codec refuses (431) a request whose headers are
// larger than max_request_headers_kb (Envoy's default 60 KiB), counting
// the bytes of every name and value including the pseudo-headers
// :method, :path and :authority, as Envoy's header map byte size does.
//
// It returns the request as the route table sees it and the upgrade it
// lets through, or the decision Envoy answers with itself (non-nil). Behaviour berth never configures is an
// error: percent-encodings other than escaped slashes, and backslashes
// (Envoy's URL canonicalizer rewrites them in ways not modelled here).
func connectionManager(hcm *hcmv3.HttpConnectionManager, req Request) (Request, *Decision, string, error) {
	limit := uint32(60)
	if v := hcm.GetMaxRequestHeadersKb(); v != nil {
		limit = v.GetValue()
	}
	method := req.Method
	if method == "" {
		method = "GET"
	}
	size := len(":method") + len(method) + len(":path") + len(req.Path) + len(":authority") + len(req.Host)
	for k, v := range req.Headers {
		size += len(k) + len(v)
	}
	if size > int(limit)*1024 {
		return req, &Decision{Status: 431}, "", nil
	}
	switch hcm.GetCommonHttpProtocolOptions().GetHeadersWithUnderscoresAction() {
	case corev3.HttpProtocolOptions_REJECT_REQUEST:
		for k := range req.Headers {
			if strings.Contains(k, "_") {
				return req, &Decision{Status: 400}, "", nil
			}
		}
	case corev3.HttpProtocolOptions_DROP_HEADER:
		kept := make(map[string]string, len(req.Headers))
		for k, v := range req.Headers {
			if !strings.Contains(k, "_") {
				kept[k] = v
			}
		}
		req.Headers = kept
	}

	path, query, hasQuery := strings.Cut(req.Path, "?")
	redirect := false
	if a := hcm.GetPathWithEscapedSlashesAction(); a != hcmv3.HttpConnectionManager_IMPLEMENTATION_SPECIFIC_DEFAULT && a != hcmv3.HttpConnectionManager_KEEP_UNCHANGED {
		if unescaped := unescapeSlashes(path); unescaped != path {
			switch a {
			case hcmv3.HttpConnectionManager_REJECT_REQUEST:
				return req, &Decision{Status: 400}, "", nil
			case hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT:
				redirect = true
			}
			path = unescaped
		}
	}
	if strings.Contains(path, `\`) {
		return req, nil, "", fmt.Errorf("path %q: backslashes are not modelled", req.Path)
	}
	if strings.Contains(escapedSlashes.Replace(path), "%") {
		return req, nil, "", fmt.Errorf("path %q: percent-encodings other than escaped slashes are not modelled", req.Path)
	}
	if hcm.GetNormalizePath().GetValue() {
		path = removeDotSegments(path)
	}
	if hcm.GetMergeSlashes() {
		path = mergeSlashes(path)
	}
	if hasQuery {
		req.Path = path + "?" + query
	} else {
		req.Path = path
	}
	if redirect {
		if strings.HasPrefix(header(req.Headers, "content-type"), "application/grpc") {
			return req, &Decision{Status: 400}, "", nil
		}
		return req, &Decision{Status: 307, Location: req.Path}, "", nil
	}

	for _, ext := range hcm.GetOriginalIpDetectionExtensions() {
		var c customheaderv3.CustomHeaderConfig
		if ext.GetTypedConfig().MessageIs(&c) && ext.GetTypedConfig().UnmarshalTo(&c) == nil && c.GetRejectWithStatus() != nil {
			if _, err := netip.ParseAddr(strings.TrimSpace(header(req.Headers, c.GetHeaderName()))); err != nil {
				return req, &Decision{Status: int(c.GetRejectWithStatus().GetCode())}, "", nil
			}
		}
	}

	if up := header(req.Headers, "upgrade"); up != "" && hasToken(header(req.Headers, "connection"), "upgrade") {
		for _, u := range hcm.GetUpgradeConfigs() {
			if strings.EqualFold(u.GetUpgradeType(), up) && (u.GetEnabled() == nil || u.GetEnabled().GetValue()) {
				return req, nil, up, nil
			}
		}
		return req, &Decision{Status: 403}, "", nil
	}
	return req, nil, "", nil
}

// unescapeSlashes is Envoy's PathUtil::unescapeSlashes on the path part:
// %2F and %5C in either case become / and \.
func unescapeSlashes(p string) string {
	return strings.NewReplacer("%2F", "/", "%2f", "/", "%5C", `\`, "%5c", `\`).Replace(p)
}

// escapedSlashes removes escaped slashes (to find other percent-encodings).
var escapedSlashes = strings.NewReplacer("%2F", "", "%2f", "", "%5C", "", "%5c", "")

// removeDotSegments is RFC 3986 section 5.2.4 on an absolute path.
func removeDotSegments(p string) string {
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	r := strings.Join(out, "/")
	if !strings.HasPrefix(r, "/") {
		r = "/" + r
	}
	return r
}

// mergeSlashes collapses runs of "/" into one.
func mergeSlashes(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// header looks a request header up case-insensitively.
func header(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// hasToken reports whether a comma-separated header value holds token.
func hasToken(v, token string) bool {
	for _, t := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}
