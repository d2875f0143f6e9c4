package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/configroot/configroot/modules/secrets/values"
)

// AWSOptions connect to AWS Secrets Manager. Credentials come from the SDK's default chain
// (environment, shared config, web identity, instance role).
type AWSOptions struct {
	// Region is the AWS region (default: the SDK's, from AWS_REGION or the shared config).
	Region string
	// Endpoint overrides the service URL (default: the SDK's; AWS_ENDPOINT_URL_SECRETS_MANAGER
	// also sets it).
	Endpoint string
	// Credentials override the default chain (tests).
	Credentials aws.CredentialsProvider
	// VersionStage is the stage read (default AWSCURRENT); writes always make AWSCURRENT.
	VersionStage string
}

// AWSStore writes to AWS Secrets Manager. Keys are secret names or ARNs; a secret holding
// properties is a JSON object (SecretString), as External Secrets reads it.
type AWSStore struct {
	client *secretsmanager.Client
	stage  string
}

var _ Store = (*AWSStore)(nil)

// NewAWS returns an AWSStore. It loads the SDK configuration but does not call AWS.
func NewAWS(ctx context.Context, o AWSOptions) (*AWSStore, error) {
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(o.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws secrets manager: %w", err)
	}
	client := secretsmanager.NewFromConfig(cfg, func(so *secretsmanager.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
	stage := o.VersionStage
	if stage == "" {
		stage = "AWSCURRENT"
	}
	return &AWSStore{client: client, stage: stage}, nil
}

// Path returns key.
func (s *AWSStore) Path(key string) string { return key }

// Read returns the properties of the secret's current version.
func (s *AWSStore) Read(ctx context.Context, key string) (values.Values, bool, error) {
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     aws.String(key),
		VersionStage: aws.String(s.stage),
	})
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return values.Values{}, false, nil
	}
	if err != nil {
		return values.Values{}, false, fmt.Errorf("aws secrets manager read %s: %w", key, err)
	}
	switch {
	case out.SecretString != nil:
		return decodeDoc(*out.SecretString), true, nil
	case out.SecretBinary != nil:
		return decodeDoc(string(out.SecretBinary)), true, nil
	}
	return values.Values{}, false, nil
}

// Write puts props as the secret's new current version, creating the secret if needed.
func (s *AWSStore) Write(ctx context.Context, key string, props values.Values) error {
	payload, err := encodeDoc(props)
	if err != nil {
		return fmt.Errorf("aws secrets manager write %s: %w", key, err)
	}
	_, err = s.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(key),
		SecretString: aws.String(payload),
	})
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		_, err = s.client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name:         aws.String(key),
			SecretString: aws.String(payload),
			Description:  aws.String("written by configroot populate"),
		})
	}
	if err != nil {
		return fmt.Errorf("aws secrets manager write %s: %w", key, err)
	}
	return nil
}
