package auth

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"
)

// MetadataKey is the gRPC metadata key carrying the bearer token.
const MetadataKey = "authorization"

// TokenFromMetadata extracts the token of the single "authorization: Bearer
// <token>" entry. Several entries, another scheme, or a token with spaces
// are malformed; none is missing.
func TokenFromMetadata(md metadata.MD) (string, error) {
	vals := md.Get(MetadataKey)
	switch len(vals) {
	case 0:
		return "", Errorf(ReasonMissing, "no %s metadata", MetadataKey)
	case 1:
	default:
		return "", Errorf(ReasonMalformed, "%d %s metadata entries, want 1", len(vals), MetadataKey)
	}
	v := vals[0]
	scheme, token, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		if strings.TrimSpace(v) == "" {
			return "", Errorf(ReasonMissing, "empty %s metadata", MetadataKey)
		}
		return "", Errorf(ReasonMalformed, "%s metadata is not \"Bearer <token>\"", MetadataKey)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", Errorf(ReasonMissing, "empty bearer token")
	}
	if strings.ContainsAny(token, " \t") {
		return "", Errorf(ReasonMalformed, "bearer token contains whitespace")
	}
	return token, nil
}

// claims are the unverified JWT claims auth reads to refuse early and to
// bound caching. Never used to grant anything.
type claims struct {
	Expiry    time.Time
	Audiences []string
}

// parseClaims decodes a compact JWT's payload without verifying it.
func parseClaims(token string) (claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return claims{}, Errorf(ReasonMalformed, "not a compact JWT (want 3 non-empty dot-separated parts, got %d parts)", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return claims{}, &Error{Reason: ReasonMalformed, Detail: "JWT payload is not base64url", Err: err}
	}
	var raw struct {
		Exp *json.Number    `json:"exp"`
		Aud json.RawMessage `json:"aud"`
	}
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return claims{}, &Error{Reason: ReasonMalformed, Detail: "JWT payload is not a JSON object", Err: err}
	}
	if raw.Exp == nil {
		return claims{}, Errorf(ReasonMalformed, "JWT has no exp claim")
	}
	exp, err := raw.Exp.Float64()
	if err != nil || exp <= 0 || exp > 1<<40 {
		return claims{}, Errorf(ReasonMalformed, "JWT exp claim is not a valid time")
	}
	c := claims{Expiry: time.Unix(int64(exp), 0).UTC()}
	if len(raw.Aud) > 0 && string(raw.Aud) != "null" {
		var one string
		if err := json.Unmarshal(raw.Aud, &one); err == nil {
			c.Audiences = []string{one}
		} else if err := json.Unmarshal(raw.Aud, &c.Audiences); err != nil {
			return claims{}, Errorf(ReasonMalformed, "JWT aud claim is neither a string nor a list of strings")
		}
	}
	return c, nil
}
