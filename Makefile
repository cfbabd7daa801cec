# h2rpc: every check CI runs is reachable from `make test`.
#
# Modules: the root module is the embeddable core; nested modules (tools/,
# bench/, interop/, ...) hold the heavier dependencies. MODULES lists every
# directory with a go.mod, found at run time so a new module joins the suite.

GO        ?= go
MODULES   := $(patsubst %/go.mod,%,$(shell find . -name go.mod -not -path '*/testdata/*' | sort))
FUZZTIME  ?= 10m
DURATION  ?= 30m
STATICCHECK = $(GO) tool -modfile=$(CURDIR)/tools/go.mod staticcheck

.DEFAULT_GOAL := test

.PHONY: help test fmt vet staticcheck peers gotest fuzz fuzz-long bench demo soak generate

# `make help` lists every target with the text after its "##"; a target
# without one is listed too, so none goes missing.
help: ## list the targets
	@awk '/^[a-z][a-zA-Z0-9_-]*:/ { \
		rule = $$0; sub(/ *##.*/, "", rule); if (rule ~ /=/) next; \
		text = ""; if (index($$0, "##")) { text = substr($$0, index($$0, "##") + 2); sub(/^ +/, "", text) } \
		name = $$0; sub(/:.*/, "", name); printf "  make %-12s %s\n", name, text }' $(MAKEFILE_LIST)

test: fmt vet staticcheck gotest ## everything CI runs: gofmt, go vet, staticcheck, go test -race in every module (against the installed peers)

fmt: ## check that gofmt would change nothing
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@echo "gofmt: ok"

vet: ## go vet every module
	@set -e; for m in $(MODULES); do echo "go vet ($$m)"; (cd $$m && $(GO) vet ./...); done

staticcheck: ## staticcheck every module
	@set -e; for m in $(MODULES); do echo "staticcheck ($$m)"; (cd $$m && $(STATICCHECK) ./...); done

# The interop module's independent peers (grpc-js, grpcio, nginx, haproxy,
# h2load): tools/peers.sh installs what is missing and does nothing when all
# are there.
peers: ## install the independent peers the interop tests run (apt and npm), if missing
	@sh tools/peers.sh

# -race everywhere; fuzz targets run their seed corpora as ordinary tests.
# H2RPC_PEERS=required makes a missing peer fail its interop test instead of
# skipping it, as it does under a plain go test.
# The allocation budgets (tests named *Alloc*) skip themselves under -race,
# whose sync.Pool drops items at random, so they run once more without it.
gotest: peers ## go test -race every module (fuzz seed corpora included), then the allocation budgets
	@set -e; for m in $(MODULES); do echo "go test -race ($$m)"; (cd $$m && H2RPC_PEERS=required $(GO) test -race -count=1 ./...); done
	@echo "go test -run Alloc (allocation budgets, without -race)"; $(GO) test -count=1 -run Alloc ./...

# Fuzz targets are found in every package of every module (tools/fuzz.sh
# says how). FUZZ=FuzzReadFrame fuzzes only the target of that name.
FUZZ ?=

fuzz: ## fuzz every target for FUZZTIME each (default 10m); FUZZ=Name fuzzes one
	@sh tools/fuzz.sh $(FUZZTIME) $(FUZZ)

# fuzz-long also keeps the corpus the fuzzer grows: new inputs are copied
# from Go's fuzz cache into the package's testdata/fuzz/<Name>/, for review
# and commit.
fuzz-long: FUZZTIME = 1h
fuzz-long: ## fuzz every target for an hour each (FUZZTIME), keeping the grown corpus in testdata/fuzz
	@sh tools/fuzz.sh -keep $(FUZZTIME) $(FUZZ)

bench: ## the go test benchmarks of bench/
	cd bench && $(GO) test -run '^$$' -bench . -benchmem ./...

demo: ## run h2rpc demo: the Learning Messenger, server and client in one process
	$(GO) run ./cmd/h2rpc demo

# The soak runs a mixed workload while the server is killed, drained and
# stalled in turn, and fails on any wrong message, status or leak. It is
# not part of test: make soak DURATION=10m
soak: ## mixed traffic for DURATION (default 30m) against a server killed, drained and stalled; checks every message, status and leak
	$(GO) run ./cmd/h2rpc-soak --duration $(DURATION)

# Regenerate every generated .pb.go (the protobuf module's golden files and
# examples/messenger's stubs) from the .proto files; no protoc needed. The
# same test without -update, run by make test, fails on drift.
generate: ## regenerate every .pb.go from its .proto (no protoc needed); make test fails on drift
	cd protobuf/internal/testpb && $(GO) test -count=1 -run Golden . -update
