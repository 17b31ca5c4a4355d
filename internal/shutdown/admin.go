package shutdown

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// statsFilter selects the active-downstream-connection gauge of every HTTP
// connection manager. Envoy evaluates it as an RE2 regular expression.
// Listener-level gauges (listener.<address>.downstream_cx_active) are not
// used: they repeat per worker thread and include the admin listener, so
// summing them would count connections twice and never reach zero while we
// are polling.
const statsFilter = `^http\..+\.downstream_cx_active$`

// adminClient talks to Envoy's admin API.
type adminClient struct {
	base    *url.URL
	http    *http.Client
	ignored map[string]bool // HTTP stat prefixes whose connections do not count
}

func newAdminClient(base string, hc *http.Client, ignoredPrefixes []string) (*adminClient, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("envoy admin address %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("envoy admin address %q: want http://host:port", base)
	}
	ig := make(map[string]bool, len(ignoredPrefixes))
	for _, p := range ignoredPrefixes {
		ig[p] = true
	}
	return &adminClient{base: u, http: hc, ignored: ig}, nil
}

func (a *adminClient) url(path string, query url.Values) string {
	u := *a.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query.Encode()
	return u.String()
}

// failHealthcheck makes Envoy's health check (and so its ready endpoint)
// fail. Envoy's admin API takes mutations by POST only.
func (a *adminClient) failHealthcheck(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url("/healthcheck/fail", nil), nil)
	if err != nil {
		return err
	}
	_, err = a.do(req)
	return err
}

// activeConnections returns the number of active downstream connections of
// every HTTP connection manager except the ignored ones.
func (a *adminClient) activeConnections(ctx context.Context) (int64, error) {
	q := url.Values{"filter": {statsFilter}, "format": {"json"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url("/stats", q), nil)
	if err != nil {
		return 0, err
	}
	body, err := a.do(req)
	if err != nil {
		return 0, err
	}
	stats, err := parseStats(body)
	if err != nil {
		return 0, fmt.Errorf("envoy admin %s: %w", req.URL.Path, err)
	}
	var n int64
	for name, v := range stats {
		prefix, ok := strings.CutPrefix(name, "http.")
		if !ok {
			continue
		}
		prefix, ok = strings.CutSuffix(prefix, ".downstream_cx_active")
		if !ok || a.ignored[prefix] {
			continue
		}
		n += v
	}
	return n, nil
}

// maxBody bounds what is read from the admin API: the filtered stats are a
// few lines per listener.
const maxBody = 4 << 20

func (a *adminClient) do(req *http.Request) ([]byte, error) {
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("envoy admin %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("envoy admin %s %s: reading response: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("envoy admin %s %s: %s: %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(firstLine(body)))
	}
	return body, nil
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if len(b) > 200 {
		b = b[:200]
	}
	return b
}

// parseStats reads the admin /stats output, JSON ({"stats":[{"name":…,
// "value":…}]}) or, should an Envoy ignore format=json, the text format
// ("name: value" per line). Entries without an integer value (histograms,
// text readouts) are skipped; a malformed document is an error, never a
// silent zero.
func parseStats(body []byte) (map[string]int64, error) {
	out := map[string]int64{}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return out, nil
	}
	if trimmed[0] == '{' {
		var doc struct {
			Stats []struct {
				Name  string          `json:"name"`
				Value json.RawMessage `json:"value"`
			} `json:"stats"`
		}
		if err := json.Unmarshal(trimmed, &doc); err != nil {
			return nil, fmt.Errorf("decoding stats JSON: %w", err)
		}
		for _, s := range doc.Stats {
			if s.Name == "" || len(s.Value) == 0 {
				continue
			}
			v, err := strconv.ParseInt(string(s.Value), 10, 64)
			if err != nil {
				continue
			}
			out[s.Name] = v
		}
		return out, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(trimmed))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		name, val, ok := strings.Cut(line, ": ")
		if !ok {
			return nil, fmt.Errorf("stats line %q: want \"name: value\"", line)
		}
		v, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		if err != nil {
			continue // a histogram summary or a text readout
		}
		out[name] = v
	}
	return out, sc.Err()
}
