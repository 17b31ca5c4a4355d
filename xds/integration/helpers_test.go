package integration

import (
	"encoding/base64"
	"strconv"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

const xdstestSecretType = resourcev3.SecretType

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
