# berth — the two commands that matter on a fresh machine with only Go:
#   make demo   berth's main job on a local cluster
#   make test   every test: unit, golden, integration and end-to-end
# Everything else they need (the Kubernetes control plane, etcd, kwok) is
# built from the Go module proxy into $(BERTH_CACHE_DIR) once and reused.

SHELL := /bin/bash
GO ?= go
export GOFLAGS ?= -buildvcs=false

VERSION ?= dev
COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
# -s -w: no symbol table or DWARF (a quarter of the size).
LDFLAGS := -s -w \
           -X github.com/berth-gateway/berth/internal/version.Version=$(VERSION) \
           -X github.com/berth-gateway/berth/internal/version.Commit=$(COMMIT)
# The image's tag: the chart's default image name (version.Repository), a
# leading "v" dropped as in the chart's appVersion.
IMAGE ?= ghcr.io/berth-gateway/berth:$(VERSION:v%=%)
GOARCH ?= $(shell $(GO) env GOARCH)

# Package tests each start their own local cluster; keep the whole run well
# inside CI's 90 minutes even when cold.
TEST_TIMEOUT ?= 45m
TEST_FLAGS ?=

.PHONY: all build image test unit vet cluster-binaries demo bench conformance soak clean

all: build

## build: the berth binary in bin/: stripped, statically linked, with
## version and commit (berth --version)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/berth .

## image: the OCI image as a tarball (bin/berth-image.tar), without a
## container runtime: the static linux binary, non-root, no base image
image:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/linux/berth .
	cd hack/image && $(GO) run . -binary ../../bin/linux/berth -arch $(GOARCH) -tag $(IMAGE) -o ../../bin/berth-image.tar

## cluster-binaries: etcd, kube-apiserver, kube-controller-manager,
## kube-scheduler, kubectl and kwok from the Go module proxy, cached
cluster-binaries:
	$(GO) run ./hack/localcluster build

vet:
	$(GO) vet ./...

## test: everything, race detector on, against real local clusters
test: vet cluster-binaries
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...

# Cluster tests live in packages of their own whose TestMain calls
# testenv.Main (see internal/testenv); every other package's tests need no
# cluster. UNIT_PKGS is that rest, found anew on each run.
UNIT_PKGS = $(shell $(GO) list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do grep -qs 'testenv\.Main' "$$dir"/*_test.go || echo "$$pkg"; done)

## unit: the tests of every package that needs no cluster; BERTH_NO_CLUSTER=1
## makes any attempt to start (or join) one fail (the chart tests build the
## helm CLI once into the cache, no cluster binaries)
unit:
	BERTH_NO_CLUSTER=1 BERTH_TEST_KUBECONFIG= $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) $(UNIT_PKGS)

## demo: a local cluster running berth with the user's scenario
demo: build cluster-binaries
	$(GO) run ./hack/demo -berth bin/berth $(DEMO_FLAGS)

## conformance: the Gateway API conformance suite (status-only tests) against
## berth on a local cluster; writes docs/conformance.md (also runs in make test)
conformance: cluster-binaries
	BERTH_CONFORMANCE_REPORT=docs/conformance.md $(GO) test ./conformance/clustertest/ -run 'TestConformance$$' -count=1 -v -timeout 30m

## soak: 50 Gateways created, changed and deleted while the controller is
## restarted at random points (docs/reliability.md)
soak: cluster-binaries
	BERTH_SOAK=1 $(GO) test -race -count=1 -run Soak -timeout 40m -v ./e2e/

## bench: the Go benchmarks (see docs/benchmarks.md); apply's run on a
## local cluster
bench: cluster-binaries
	$(GO) test -run XXX -bench . -benchmem ./render/ ./xds/translate/ ./apply/clustertest/ ./xds/

clean:
	rm -rf bin
