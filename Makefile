# configroot — see README.md. Every target works on a fresh clone with only Go installed.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN      := $(CURDIR)/bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
export PATH := $(BIN):$(PATH)

# The example cluster repo `make render` renders.
EXAMPLE  ?= examples/cluster

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: tools
tools: ## install what render runs into ./bin: helm 4 and helmfile (built from their Go modules)
	scripts/install-tools.sh $(BIN) render

.PHONY: tools-test
tools-test: ## install what the tests also run into ./bin: helm 3, sops, a Vault server, an OCI registry
	scripts/install-tools.sh $(BIN) test

.PHONY: tools-vault
tools-vault: ## build only the Vault server of the populate tests into ./bin (about 10 minutes cold)
	scripts/build-vault.sh $(BIN)

.PHONY: build
build: ## build the configroot CLI into ./bin
	go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN)/configroot ./cmd/configroot

.PHONY: render
render: tools build ## render the example cluster repo into $(EXAMPLE)/config-root
	$(BIN)/configroot render --source $(EXAMPLE)

.PHONY: test
test: tools tools-test ## run every test (unit and integration, real helm 4 and 3, helmfile, Vault, registry) with -race
	go test -race -count=1 ./...

.PHONY: golden
golden: tools ## rewrite the golden files from the current code (review the diff!)
	go test -count=1 ./cmd/configroot/cli -run 'TestExampleGolden' -update

.PHONY: bench
bench: ## run the benchmarks (6 runs each, for benchstat)
	go test -run '^$$' -bench . -benchmem -count 6 -timeout 120m ./modules/... ./cmd/... | tee bench.txt

.PHONY: fmt
fmt: ## gofmt every Go file
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## go vet the module, with the Dagger e2e test (build tag daggere2e)
	go vet ./...
	go vet -tags daggere2e ./internal/daggere2e

.PHONY: lint
lint: vet ## vet and check formatting
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [[ -n $$out ]]; then echo "gofmt needed: $$out"; exit 1; fi

.PHONY: tidy
tidy: ## go mod tidy
	go mod tidy

# The Dagger module (ci/). Its generated code is committed; regenerate it after changing a
# function's signature.
DAGGER_CODEGEN ?= ../shared/dagger/codegen

.PHONY: generate
generate: ## regenerate the Dagger module's code (dagger develop where an engine runs)
	@if command -v dagger >/dev/null && dagger version >/dev/null 2>&1; then dagger develop; else $(DAGGER_CODEGEN); fi
	cd ci && go build ./... && go vet ./...

.PHONY: dagger-develop
dagger-develop: ## regenerate the Dagger module's code with the Dagger CLI
	dagger develop

.PHONY: dagger-render
dagger-render: ## render the example with the Dagger module into $(EXAMPLE)/config-root
	dagger call --source=$(EXAMPLE) render export --path=$(EXAMPLE)/config-root

.PHONY: dagger-e2e
dagger-e2e: ## test the Dagger module on a real engine (the harness of ../shared/dagger-harness, or DAGGER_CALL)
	scripts/dagger-e2e.sh

.PHONY: dagger-check
dagger-check: ## fail when the example's committed config-root is stale (Dagger module)
	dagger call --source=$(EXAMPLE) check

.PHONY: actionlint
actionlint: ## lint the GitHub Actions workflows
	go run github.com/rhysd/actionlint/cmd/actionlint@v1.7.7 .github/workflows/*.yml examples/cluster/.github/workflows/*.yml
