package store

import (
	"context"
	"fmt"
	"strings"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/configroot/configroot/modules/secrets/values"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// GCPOptions connect to Google Secret Manager. Credentials come from Application Default
// Credentials unless ClientOptions say otherwise.
type GCPOptions struct {
	// Project is the project ID holding the secrets (required).
	Project string
	// ClientOptions are passed to the client (an endpoint and credentials in tests).
	ClientOptions []option.ClientOption
}

// GCPStore writes to Google Secret Manager. Keys are secret IDs (or full
// projects/P/secrets/ID names); the value read is the latest version, and a write adds a
// version, creating the secret (automatic replication) when needed. A secret holding
// properties is a JSON object, as External Secrets reads it with remoteRef.property.
type GCPStore struct {
	client  *secretmanager.Client
	project string
}

var _ Store = (*GCPStore)(nil)

// NewGCP returns a GCPStore. The gRPC connection is made lazily; Close releases it.
func NewGCP(ctx context.Context, o GCPOptions) (*GCPStore, error) {
	if o.Project == "" {
		return nil, fmt.Errorf("gcp secret manager: no project ID (ClusterSecretStore spec.provider.gcpsm.projectID, or --gcp-project)")
	}
	c, err := secretmanager.NewClient(ctx, o.ClientOptions...)
	if err != nil {
		return nil, fmt.Errorf("gcp secret manager: %w", err)
	}
	return &GCPStore{client: c, project: o.Project}, nil
}

// Close closes the connection.
func (s *GCPStore) Close() error { return s.client.Close() }

// Path returns the secret's resource name, projects/P/secrets/ID.
func (s *GCPStore) Path(key string) string {
	if strings.HasPrefix(key, "projects/") {
		if i := strings.Index(key, "/versions/"); i >= 0 {
			return key[:i]
		}
		return key
	}
	return "projects/" + s.project + "/secrets/" + key
}

// Read returns the properties of the latest version; a missing secret, or one with no
// enabled version, is absent.
func (s *GCPStore) Read(ctx context.Context, key string) (values.Values, bool, error) {
	name := s.Path(key)
	resp, err := s.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name + "/versions/latest"})
	switch status.Code(err) {
	case codes.OK:
	case codes.NotFound, codes.FailedPrecondition:
		return values.Values{}, false, nil
	default:
		return values.Values{}, false, fmt.Errorf("gcp secret manager read %s: %w", name, err)
	}
	return decodeDoc(string(resp.GetPayload().GetData())), true, nil
}

// Write adds props as the latest version, creating the secret first when it does not exist.
func (s *GCPStore) Write(ctx context.Context, key string, props values.Values) error {
	name := s.Path(key)
	payload, err := encodeDoc(props)
	if err != nil {
		return fmt.Errorf("gcp secret manager write %s: %w", name, err)
	}
	add := func() error {
		_, err := s.client.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
			Parent:  name,
			Payload: &secretmanagerpb.SecretPayload{Data: []byte(payload)},
		})
		return err
	}
	err = add()
	if status.Code(err) == codes.NotFound {
		parent, id, _ := strings.Cut(strings.TrimPrefix(name, "projects/"), "/secrets/")
		_, err = s.client.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
			Parent:   "projects/" + parent,
			SecretId: id,
			Secret: &secretmanagerpb.Secret{
				Replication: &secretmanagerpb.Replication{
					Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}},
				},
				Labels: map[string]string{"managed-by": "configroot"},
			},
		})
		if err == nil {
			err = add()
		}
	}
	if err != nil {
		return fmt.Errorf("gcp secret manager write %s: %w", name, err)
	}
	return nil
}
