# factom-sidecar: build, test, demo.
#   make demo   run the whole system locally (real API server, factomd, walletd)
#   make test   every test: unit, fuzz seed corpora, integration against real programs
#   make unit   unit tests only (fast, no real programs)

GO      ?= go
BIN     := $(CURDIR)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/factom-sidecar/factom-sidecar/internal/version.Version=$(VERSION)
export FACTOM_SIDECAR_BIN_DIR := $(BIN)
# Test packages run one at a time: each starts its own API server, etcd,
# factomd and walletd processes, and two cores do not fit several sets at once.
TESTFLAGS ?= -p 1 -count=1 -timeout 60m

.PHONY: all build tools node-tools node-deps test unit integration node-test fuzz demo bench vet clean faults monitoring-component chart-readme

all: build

build: $(BIN)/sidecar

$(BIN)/sidecar: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/sidecar

# The real programs, built once from Go modules and cached in bin/.
tools: build $(BIN)/kube-apiserver $(BIN)/etcd $(BIN)/factomd $(BIN)/test-walletd $(BIN)/kustomize $(BIN)/helm $(BIN)/promtool node-tools

# The real node's components (test/node): the rest of Kubernetes, CoreDNS.
node-tools: $(BIN)/kubelet $(BIN)/kube-proxy $(BIN)/kube-controller-manager $(BIN)/kube-scheduler $(BIN)/kubectl $(BIN)/coredns $(BIN)/prometheus

# Debian packages the real node runs on. Installed when missing (as root:
# CI runs as root); without root it says what is missing, and the demo
# falls back to processes posing as pods (the real-node tests fail).
NODE_PACKAGES := containerd runc containernetworking-plugins iptables conntrack iproute2 busybox-static
node-deps:
	@missing=$$(for p in $(NODE_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo ">> the real node needs these Debian packages (install them as root): $$missing"; exit 0; fi; \
	  echo ">> installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# Kubernetes components report the module's version, not v0.0.0-master.
K8S_VERSION := v1.37.2
K8S_LDFLAGS := $(foreach p,k8s.io/component-base/version k8s.io/client-go/pkg/version,-X $(p).gitVersion=$(K8S_VERSION) -X $(p).gitMajor=1 -X $(p).gitMinor=37)
$(BIN)/kube-apiserver $(BIN)/kube-controller-manager $(BIN)/kube-scheduler $(BIN)/kubelet $(BIN)/kube-proxy $(BIN)/kubectl: tools/k8s/go.mod tools/k8s/go.sum
	@echo ">> building $(notdir $@) (first time: several minutes)"
	cd tools/k8s && $(GO) build -ldflags '-s -w $(K8S_LDFLAGS)' -o $@ k8s.io/kubernetes/cmd/$(notdir $@)

$(BIN)/etcd: tools/k8s/go.mod tools/k8s/go.sum
	@echo ">> building etcd"
	cd tools/k8s && $(GO) build -o $@ go.etcd.io/etcd/server/v3

$(BIN)/factomd: tools/factom/go.mod tools/factom/go.sum
	@echo ">> building factomd"
	cd tools/factom && CGO_ENABLED=0 $(GO) build -o $@ github.com/FactomProject/factomd

$(BIN)/test-walletd: tools/factom/go.mod tools/factom/go.sum tools/factom/cmd/test-walletd/main.go
	@echo ">> building walletd"
	cd tools/factom && CGO_ENABLED=0 $(GO) build -o $@ ./cmd/test-walletd

$(BIN)/coredns: tools/coredns/go.mod tools/coredns/go.sum tools/coredns/main.go
	@echo ">> building coredns"
	cd tools/coredns && CGO_ENABLED=0 $(GO) build -o $@ .

$(BIN)/kustomize: tools/manifests/go.mod tools/manifests/go.sum
	@echo ">> building kustomize"
	cd tools/manifests && $(GO) build -o $@ sigs.k8s.io/kustomize/kustomize/v5

$(BIN)/helm: tools/manifests/go.mod tools/manifests/go.sum
	@echo ">> building helm"
	# helm's release builds set the Kubernetes version `helm template`
	# assumes; without it, v1.20 (below the chart's kubeVersion).
	cd tools/manifests && $(GO) build -ldflags "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37" -o $@ helm.sh/helm/v3/cmd/helm

# promtool checks and unit-tests the alert rules. remove_all_sd leaves out
# the cloud service-discovery plugins the rule commands never use: the
# build takes about a minute instead of compiling every cloud SDK.
PROMETHEUS_VERSION := 3.16.0
$(BIN)/promtool: tools/prometheus/go.mod tools/prometheus/go.sum
	@echo ">> building promtool"
	cd tools/prometheus && $(GO) build -tags remove_all_sd -ldflags '-s -w -X github.com/prometheus/common/version.Version=$(PROMETHEUS_VERSION)' -o $@ github.com/prometheus/prometheus/cmd/promtool

# The Prometheus server the real-node test scrapes the sidecars with and
# evaluates the alert rules in. It builds with the Kubernetes service
# discovery only (first build here: about 4 minutes on 2 shared cores,
# after promtool's dependencies were compiled; about 100 MB).
$(BIN)/prometheus: tools/prometheus/go.mod tools/prometheus/go.sum
	@echo ">> building prometheus"
	cd tools/prometheus && $(GO) build -tags 'remove_all_sd enable_kubernetes_sd' -ldflags '-s -w -X github.com/prometheus/common/version.Version=$(PROMETHEUS_VERSION)' -o $@ github.com/prometheus/prometheus/cmd/prometheus

# The kustomize component's copies of the chart's alert rules and dashboard
# (the manifests tests fail when they differ).
monitoring-component: $(BIN)/helm
	{ echo '# Written by `make monitoring-component` from the chart (files/prometheus-rules.yaml): edit that file.'; \
	  $(BIN)/helm template factom manifests/helm/factom-sidecar --kube-version 1.37.2 --set metrics.prometheusRule.enabled=true \
	    --show-only templates/monitoring-prometheusrule.yaml | grep -v -e '^# Source:' \
	    -e '^    app.kubernetes.io/\(instance\|version\|managed-by\):' -e '^    helm.sh/chart:'; } > manifests/components/monitoring/prometheusrule.yaml
	cp manifests/helm/factom-sidecar/files/dashboard.json manifests/components/monitoring/dashboard.json

# The chart README's values table, from values.yaml's `# --` comments.
chart-readme:
	$(GO) test -count=1 ./manifests -short -run TestChartReadmeIsCurrent -update-chart-readme

# Unit tests under the race detector first (fast), then every package,
# integration tests included, against the real programs.
test: tools node-deps vet
	$(GO) test -short -race -count=1 ./...
	$(GO) test $(TESTFLAGS) ./...

# The real-node tests alone: the shipped manifests (kustomize and Helm) on
# a real kubelet, containerd and kube-proxy. Needs root.
node-test: tools node-deps
	$(GO) test -count=1 -timeout 60m -v ./test/node/

unit: vet
	$(GO) test -short -race -count=1 ./...

vet:
	@test -z "$$(gofmt -l cmd internal test manifests tools)" || { gofmt -l cmd internal test manifests tools; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

# Run each fuzz target for a while (FUZZTIME, default 30s each).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./internal/...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo ">> $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

demo: tools node-deps
	$(GO) run ./cmd/demo

bench: tools node-deps
	$(GO) run ./cmd/bench

# The full fault-injection suite: FAULTS_SCHEDULES seeded schedules of
# FAULTS_DURATION each (docs/FAULTS.md). Its last line is the summary.
FAULTS_SCHEDULES ?= 100
FAULTS_DURATION  ?= 12s
FAULTS_BASE      ?= 1
faults: tools
	$(GO) test ./test/faults -run TestFaultSchedules -count=1 -timeout 80m -v \
	  -faults.schedules=$(FAULTS_SCHEDULES) -faults.duration=$(FAULTS_DURATION) -faults.base=$(FAULTS_BASE) -faults.keep

clean:
	rm -rf $(BIN)

FORCE:
