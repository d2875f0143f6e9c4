package testutil

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// This file reproduces how External Secrets Operator turns what a store holds into the bytes
// of a Secret key, so tests can check what configroot writes against what ESO will read,
// without a cluster. Each function follows one function of ESO v0.16.2
// (github.com/external-secrets/external-secrets@v0.16.2, pkg/...; the providers moved to
// providers/v1/... later without changing these lookups, but GCP's added a JSON check, kept
// here) and uses the same gjson module. They are rewritten from reading that source, to the
// behaviour that matters here: the value returned for a remoteRef.property, or an error.

// ErrESONotFound is what the lookups return when ESO would fail with "key … does not
// exist" (the ExternalSecret would not sync).
var ErrESONotFound = errors.New("ESO finds no such property")

// ESOVault is the Vault provider's lookup (pkg/provider/vault/client_get.go, getSecretValue):
// data is the KV v2 secret's data as the Vault API returns it. A field named exactly by
// property wins; otherwise property is a gjson path into data's JSON encoding. Strings are
// returned as their bytes, other JSON values as their encoding (utils.GetByteValue).
func ESOVault(data map[string]any, property string) ([]byte, error) {
	if data == nil {
		return nil, ErrESONotFound
	}
	js, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	if property == "" {
		return js, nil
	}
	if v, ok := data[property]; ok {
		if s, ok := v.(string); ok {
			return []byte(s), nil
		}
		return json.Marshal(v)
	}
	return gjsonString(string(js), property)
}

// ESOGCP is the Google Secret Manager provider's lookup (pkg/provider/gcp/secretmanager/
// client.go, GetSecret and getDataByProperty): with a property the payload must be JSON
// (providers/v1 rejects anything else); when the first '.' of the property is not its first
// character, the property with every '.' escaped is tried first.
func ESOGCP(payload []byte, property string) ([]byte, error) {
	if property == "" {
		return payload, nil
	}
	if !json.Valid(payload) {
		return nil, fmt.Errorf("gcp: payload is not JSON: %w", ErrESONotFound)
	}
	if idx := strings.Index(property, "."); idx > 0 {
		if v := gjson.Get(string(payload), strings.ReplaceAll(property, ".", `\.`)); v.Exists() {
			return []byte(v.String()), nil
		}
	}
	return gjsonString(string(payload), property)
}

// ESOAWS is the AWS Secrets Manager provider's lookup (pkg/provider/aws/secretsmanager/
// secretsmanager.go, GetSecret, mapSecretToGjson and escapeDotsIfRequired): a property
// holding '.' is tried with every '.' escaped first, then as it is.
func ESOAWS(secretString string, property string) ([]byte, error) {
	if property == "" {
		return []byte(secretString), nil
	}
	path := property
	if strings.Contains(property, ".") {
		if esc := strings.ReplaceAll(property, ".", `\.`); gjson.Get(secretString, esc).Exists() {
			path = esc
		}
	}
	return gjsonString(secretString, path)
}

// ESOAzure is the Azure Key Vault provider's lookup for a secret object (pkg/provider/azure/
// keyvault/keyvault.go, getProperty): the property as it is, then, if it holds '.', with
// every '.' escaped.
func ESOAzure(value string, property string) ([]byte, error) {
	if property == "" {
		return []byte(value), nil
	}
	if v := gjson.Get(value, property); v.Exists() {
		return []byte(v.String()), nil
	}
	if !strings.Contains(property, ".") {
		return nil, ErrESONotFound
	}
	return gjsonString(value, strings.ReplaceAll(property, ".", `\.`))
}

// ESOAlibaba is the Alibaba Cloud KMS provider's lookup (pkg/provider/alibaba/kms.go,
// GetSecret): the property is a gjson path, nothing else.
func ESOAlibaba(secretData string, property string) ([]byte, error) {
	if property == "" {
		return []byte(secretData), nil
	}
	return gjsonString(secretData, property)
}

// ESOKubernetes is the Kubernetes provider's lookup, the store of configroot's local
// backend (pkg/provider/kubernetes/client.go, getFromSecretData): the data key named exactly
// by property wins; otherwise, when property has a '.' that is neither first nor last, the
// part before it names a key holding JSON and the rest is a gjson path into it.
func ESOKubernetes(data map[string][]byte, property string) ([]byte, error) {
	if v, ok := data[property]; ok {
		return v, nil
	}
	idx := strings.Index(property, ".")
	if idx <= 0 || idx == len(property)-1 {
		return nil, ErrESONotFound
	}
	v, ok := data[property[:idx]]
	if !ok {
		return nil, ErrESONotFound
	}
	return gjsonString(string(v), property[idx+1:])
}

// ESODecode is ESO's decoding of a fetched value per remoteRef.decodingStrategy
// (pkg/utils/utils.go, Decode, called by the ExternalSecret controller for every
// spec.data entry): Base64 and Base64URL must decode (padded), Auto tries both then keeps
// the value, None or "" keep it.
func ESODecode(strategy string, in []byte) ([]byte, error) {
	switch strategy {
	case "Base64":
		return base64.StdEncoding.DecodeString(string(in))
	case "Base64URL":
		return base64.URLEncoding.DecodeString(string(in))
	case "Auto":
		if out, err := base64.StdEncoding.DecodeString(string(in)); err == nil {
			return out, nil
		}
		if out, err := base64.URLEncoding.DecodeString(string(in)); err == nil {
			return out, nil
		}
		return in, nil
	case "None", "":
		return in, nil
	}
	return nil, fmt.Errorf("decoding strategy %v is not supported", strategy)
}

// KESProperty is kubernetes-external-secrets' lookup, for the legacy kubernetes-client.io/v1
// format (lib/backends/kv-backend.js, _fetchDataValues): with a property the remote value
// is parsed as JSON and the field named exactly by the property is taken.
func KESProperty(value string, property string) ([]byte, error) {
	if property == "" {
		return []byte(value), nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(value), &m); err != nil {
		return nil, fmt.Errorf("kes: value is not JSON: %w", ErrESONotFound)
	}
	v, ok := m[property]
	if !ok {
		return nil, ErrESONotFound
	}
	if s, ok := v.(string); ok {
		return []byte(s), nil
	}
	return json.Marshal(v)
}

func gjsonString(doc, path string) ([]byte, error) {
	v := gjson.Get(doc, path)
	if !v.Exists() {
		return nil, ErrESONotFound
	}
	return []byte(v.String()), nil
}
