// Package render turns a cluster repo into config-root: the first steps of configroot's
// pipeline (source repo → render → layout → [secrets] → write).
//
// Render runs `helmfile template` through a Runner (TemplateArgs is the argument list the
// CLI and the Dagger module share), reads the per-release output with ReadRendered and the
// repo's kustomize folders with ReadKustomization, places every resource with the Layout
// filter, encodes each into its file with FilesWriter and replaces config-root with
// WriteAtomic. Each step works on kyaml RNodes and can be used alone.
package render
