// Package transform is the post-render step of configroot's pipeline (source repo → render →
// layout → secrets → [transforms] → write): the labels, annotations and config hashes that
// the Jenkins X cluster-repo Makefile added after the render with jx gitops label, annotate
// and hash, declared in the transforms section of configroot.yaml.
//
// Load reads the section with the line of every field, so that a bad setting is an error
// naming configroot.yaml and the line. Filter is the kio.Filter the render runs after Layout
// and before the write: render, check, diff, publish and the Dagger module all see its
// result. JenkinsXRules are what `jenkinsX: true` stands for.
package transform
