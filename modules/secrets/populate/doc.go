// Package populate fills secret stores with what config-root's ExternalSecrets will ask
// them for. It runs after the render and the secrets conversion, against the committed
// config-root: for every ExternalSecret entry whose value is missing from its store, it
// takes the value from the source the repo declares in .configroot/secret-sources.yaml (a
// vals reference, a generator, or the value the chart rendered, read in memory with
// render.Collect) and writes it through a store writer of package store.
//
// It reads the ExternalSecret YAML itself (external-secrets.io and the legacy
// kubernetes-client.io/v1), not the converter's Go types, so it works on any config-root.
// Each value goes into the field the entry's remoteRef.property reads through the store's
// External Secrets provider (secrets.PropertyField), in the form the entry decodes
// (remoteRef.decodingStrategy, or the legacy isBinary: base64 for binary values).
// No value is ever printed, logged or put in an error.
package populate
