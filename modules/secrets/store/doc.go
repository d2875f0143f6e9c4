// Package store holds populate's writers: each reads and writes whole remote secrets of one
// backend (Vault KV v2, Google Secret Manager, AWS Secrets Manager, Azure Key Vault) through
// its official client. Every store holds values as JSON strings, so a value that is not
// UTF-8 text is refused rather than stored corrupted (binary values are stored base64).
// Errors name the store path, never a value.
package store
