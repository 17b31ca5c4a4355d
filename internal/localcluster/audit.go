package localcluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// auditPolicy records every request made by a ServiceAccount (what berth's
// controller is when a test runs it with only its RBAC), at Metadata level,
// once its response is known; nothing else is recorded.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  userGroups: ["system:serviceaccounts"]
- level: None
`

// AuditEvent is one audited request: who did what to which resource, and
// the answer's status code.
type AuditEvent struct {
	Verb string `json:"verb"`
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	Stage string `json:"stage"`
}

// Resource is "resource" or "resource/subresource" with its API group
// ("" for the core group) — the way RBAC rules name it.
func (e AuditEvent) Resource() (group, resource string) {
	if e.ObjectRef == nil {
		return "", ""
	}
	r := e.ObjectRef.Resource
	if e.ObjectRef.Subresource != "" {
		r += "/" + e.ObjectRef.Subresource
	}
	return e.ObjectRef.APIGroup, r
}

// AuditLog is the path of the API server's audit log (ServiceAccount
// requests only; see auditPolicy).
func (c *Cluster) AuditLog() string { return filepath.Join(c.dir, "audit.log") }

func (c *Cluster) writeAuditPolicy() (string, error) {
	path := filepath.Join(c.dir, "audit-policy.yaml")
	return path, os.WriteFile(path, []byte(auditPolicy), 0o600)
}

// ReadAudit returns the completed requests of the audit log made by user
// (a full username such as system:serviceaccount:ns:name; "" for all).
func ReadAudit(path, user string) ([]AuditEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []AuditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var e AuditEvent
		if err := json.Unmarshal([]byte(text), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if e.Stage != "ResponseComplete" || (user != "" && e.User.Username != user) {
			continue
		}
		out = append(out, e)
	}
	return out, sc.Err()
}
