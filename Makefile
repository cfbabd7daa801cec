# h2rpc: every check CI runs is reachable from `make test`.
#
# Modules: the root module is the embeddable core; nested modules (tools/,
# bench/, interop/, ...) hold the heavier dependencies. MODULES lists every
# directory with a go.mod, found at run time so a new module joins the suite.

GO        ?= go
MODULES   := $(patsubst %/go.mod,%,$(shell find . -name go.mod -not -path '*/testdata/*' | sort))
FUZZTIME  ?= 10m
STATICCHECK = $(GO) tool -modfile=$(CURDIR)/tools/go.mod staticcheck

.PHONY: test fmt vet staticcheck gotest fuzz bench demo

test: fmt vet staticcheck gotest

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@echo "gofmt: ok"

vet:
	@set -e; for m in $(MODULES); do echo "go vet ($$m)"; (cd $$m && $(GO) vet ./...); done

staticcheck:
	@set -e; for m in $(MODULES); do echo "staticcheck ($$m)"; (cd $$m && $(STATICCHECK) ./...); done

# -race everywhere; fuzz targets run their seed corpora as ordinary tests.
# The allocation budgets (tests named *Alloc*) skip themselves under -race,
# whose sync.Pool drops items at random, so they run once more without it.
gotest:
	@set -e; for m in $(MODULES); do echo "go test -race ($$m)"; (cd $$m && $(GO) test -race -count=1 ./...); done
	@echo "go test -run Alloc (allocation budgets, without -race)"; $(GO) test -count=1 -run Alloc ./...

# Fuzz every target in turn for FUZZTIME each: make fuzz FUZZTIME=10m
fuzz:
	@set -e; for t in $$($(GO) test -list '^Fuzz' ./fuzz | grep '^Fuzz'); do \
		echo "fuzzing $$t for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./fuzz; \
	done

bench:
	cd bench && $(GO) test -run '^$$' -bench . -benchmem ./...

demo:
	$(GO) run ./cmd/h2rpc demo
