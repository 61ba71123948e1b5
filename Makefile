# callbox — make demo runs the box against the callee simulator; make test
# runs every test. Both install what is missing first.
GO      ?= go
BUILD   := build
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Local audio (PortAudio, cgo) is on by default; CGO_ENABLED=0 builds drop it.
TAGS    ?= $(shell pkg-config --exists portaudio-2.0 2>/dev/null && [ "$$CGO_ENABLED" != 0 ] && echo portaudio)
FUZZTIME ?= 10000x
TESTTIMEOUT ?= 14m
CHAOS_SEEDS ?= 1-10

.PHONY: all deps build demo test test-go fuzz vet bench soak chaos deb deb-test clean

all: build

deps:
	@scripts/deps.sh

build:
	@mkdir -p $(BUILD)
	$(GO) build -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(BUILD)/ ./cmd/callboxd ./cmd/callboxctl

demo: deps build
	$(BUILD)/callboxctl demo

vet:
	$(GO) vet -tags '$(TAGS)' ./...

test: deps build vet test-go fuzz
	@if [ -x systemd/verify.sh ]; then systemd/verify.sh; fi
	@echo "make test: all passed"

test-go:
	$(GO) test -tags '$(TAGS)' -p 1 -timeout $(TESTTIMEOUT) -count=1 ./...

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz-short.sh

bench: deps build
	$(GO) test -tags '$(TAGS)' -run '^$$' -bench . -benchmem -benchtime 1x -timeout 30m ./... | tee $(BUILD)/bench.txt

soak: deps build
	CALLBOX_SOAK=1 CALLBOX_CHAOS_SEEDS='$(CHAOS_SEEDS)' $(GO) test -tags '$(TAGS)' -p 1 -timeout 120m -count=1 ./...

# The cluster chaos soak alone: make chaos CHAOS_SEEDS=1-50 (root for partitions).
chaos: build
	CALLBOX_SOAK=1 CALLBOX_CHAOS_SEEDS='$(CHAOS_SEEDS)' $(GO) test -p 1 -timeout 120m -count=1 -v -run 'TestChaosCampaignSoak' ./daemon/clusterctl/

deb: build
	packaging/build-deb.sh $(VERSION)

deb-test: deb
	packaging/test-deb.sh $(BUILD)/callbox_*_amd64.deb

clean:
	rm -rf $(BUILD)
