# containerd-shim-cc-v2 — every entry point a developer, CI and the README use.
# `make demo` and `make test` each do their own set-up (deps, build, guest image).

SHELL := /bin/bash
DOTNET ?= dotnet
BUILD := build
BIN := $(BUILD)/bin
RID := linux-x64
PUBLISH := $(DOTNET) publish -c Release -r $(RID) --nologo -v quiet -o $(BIN)

.PHONY: all deps build guest install uninstall test test-unit test-integration bench stress fuzz demo clean

all: build

## deps: installs every apt package and tool the build and tests need (idempotent; fresh Debian 12).
deps:
	@bash hack/install-deps.sh

## build: NativeAOT-publishes the shim and the agent into build/bin/.
build:
	$(PUBLISH) src/containerd-shim-cc-v2/containerd-shim-cc-v2.csproj
	$(PUBLISH) src/cc-agent/cc-agent.csproj
	@rm -f $(BIN)/*.pdb $(BIN)/*.dbg
	@bash hack/write-configuration.sh
	@ls -l $(BIN)

## guest: the guest kernel and initramfs under build/guest/ (needs build for the agent).
guest: build
	@bash hack/build-guest.sh

## install: the shim, the guest assets, the default configuration and containerd's CRI entry onto this node
## (hack/install.sh; DESTDIR, PREFIX, SHAREDIR, CONTAINERD_CONFIG, HANDLER honoured); prints the RuntimeClass.
## Uses what `make build guest` made; run those first.
install:
	@DESTDIR="$(DESTDIR)" PREFIX="$(or $(PREFIX),/usr/local)" bash hack/install.sh

## uninstall: removes exactly what `make install` wrote (its manifest), the CRI entry out of config.toml.
uninstall:
	@DESTDIR="$(DESTDIR)" PREFIX="$(or $(PREFIX),/usr/local)" bash hack/install.sh --uninstall

## test: unit and integration tests (the command CI runs).
test: deps build guest
	@bash hack/run-tests.sh all

test-unit:
	@bash hack/run-tests.sh unit

test-integration:
	@bash hack/run-tests.sh integration

## bench: our parts side by side with the references, reported as ratios.
bench: deps build guest
	@bash hack/bench.sh

## stress: 100 create/exec/delete cycles and 8 at once through ctr and the CRI, shim RSS over many execs, leak check
## (not part of `make test`; STRESS_CYCLES, STRESS_PODS, STRESS_EXECS for a shorter run).
stress: deps build guest
	@bash hack/stress.sh

## fuzz: the parsers of hostile input under AFL++ and a million mutations each (bounded; FUZZ_SECONDS per target).
fuzz: deps
	@bash hack/fuzz.sh

## demo: the main job.
demo: deps build guest
	@bash hack/demo.sh

clean:
	rm -rf $(BUILD)
	find . -name bin -o -name obj -type d -prune -exec rm -rf {} + 2>/dev/null || true
