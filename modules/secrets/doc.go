// Package secrets keeps secret values out of config-root: it sits between reading the render
// and laying it out (source repo → render → [secrets] → layout → write).
//
// LoadMapping reads the Jenkins X SecretMapping file of the repo. Converter, a kio.Filter,
// turns every Secret with data (and every Secret a mapping rule names) into an ExternalSecret
// pointing at the secret store the mapping names (External Secrets Operator v1, or the
// legacy kubernetes-external-secrets format), and adds the ClusterSecretStore manifests of
// the stores used. Guard, the last filter, fails the render if a Secret with data would
// still reach config-root without the opt-out annotation. Property spells each
// remoteRef.property so that the store's ESO provider reads exactly its field, and IsBinary
// marks the values stored base64. No value is ever copied into an error or a log.
package secrets
