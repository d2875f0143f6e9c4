// Package store holds populate's writers: each reads and writes whole remote secrets of one
// backend (Vault KV v2, Google Secret Manager, AWS Secrets Manager, Azure Key Vault) through
// its official client. Errors name the store path, never a value.
package store
