# rectune — the two README commands: `make run` and `make test`.
SHELL := /bin/bash
APT_PACKAGES := libdnnl-dev libpfm4-dev libnuma-dev libsqlite3-dev
# The Slurm backend's tests run a real single-node cluster (deploy/slurm/local-cluster.sh); a store
# test reads the result store from the sqlite3 shell while a sweep writes it.
TEST_APT_PACKAGES := slurm-wlm munge sqlite3
SWIFT ?= swift
# Release build; tests also run optimized (the engine's kernels are too slow unoptimized),
# with testability enabled for @testable imports.
# The engine's Swift kernels (DLRM's interaction, gathers, optimizer loops) are compiled for the
# build host when it has AVX2 and FMA (every x86-64 server CPU since 2013-2015): 256-bit vectors
# instead of SSE2's 128. Same results: Swift never fuses a multiply and an add on its own, and no
# reduction is reordered. `rectune bench` names the target in its header. The binary then needs
# AVX2: build with `make TARGET_CPU=` for one that runs on any x86-64 (or name another CPU that has
# AVX2 and FMA, e.g. TARGET_CPU=znver4: the 8-lane optimizer stage needs them).
TARGET_CPU ?= $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null && echo haswell)
CPU_FLAGS := $(if $(TARGET_CPU),-Xswiftc -target-cpu -Xswiftc $(TARGET_CPU) -Xswiftc -DRECTUNE_TARGET_AVX2)
RELEASE_FLAGS := -c release $(CPU_FLAGS)
TEST_FLAGS := -c release -Xswiftc -enable-testing $(CPU_FLAGS)
BIN := .build/release/rectune
SPEC ?= Experiments/quick.yaml
DB ?= results/rectune.sqlite

.PHONY: deps test-deps build run test bench contest contest-tune clean

## deps: install the system packages if any is missing (needs root or sudo).
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

## test-deps: what the tests need beyond the build (a local Slurm cluster's packages).
test-deps:
	@$(MAKE) --no-print-directory deps APT_PACKAGES="$(TEST_APT_PACKAGES)"

## build: release build of the rectune binary.
build: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product rectune

## run: the main job — the quick experiment into results/rectune.sqlite, then a report.
run: build
	@mkdir -p results
	$(BIN) sweep $(SPEC) --db $(DB)
	$(BIN) report --db $(DB) --latest --format text
	$(BIN) report --db $(DB) --latest --format md --out results/quick-report.md
	$(BIN) report --db $(DB) --latest --format html --out results/quick-report.html
	@echo "reports: results/quick-report.html results/quick-report.md"

## test: build and run the whole test suite (optimized, with testability).
test: deps test-deps
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	$(SWIFT) test $(TEST_FLAGS) --skip-build

## bench: speed figures for every model (not a test).
bench: build
	$(BIN) bench

## contest: a scaled DeepRec CTR contest (baseline vs a submission) that ends with the scoreboard.
## CONTEST_SCALE multiplies the scorer's step counts (1 = the contest itself; see README "The contest").
CONTEST_SCALE ?= 0.02
CONTEST_MODELS ?= dien,din,dlrm,deepfm,mmoe,wdl
CONTEST_SUBMISSION ?= Experiments/contest/hand-tuned.yaml
CONTEST_REPEATS ?= 1
contest: build
	@mkdir -p results
	$(BIN) contest run --scale $(CONTEST_SCALE) --repeats $(CONTEST_REPEATS) --models $(CONTEST_MODELS) \
	  --submission $(CONTEST_SUBMISSION) --db results/contest.sqlite --json results/contest-board.json
	@echo "scoreboard JSON: results/contest-board.json"

## contest-tune: rectune contest tune at CONTEST_SCALE within CONTEST_BUDGET minutes, then the
## scaled contest of the baseline vs the tuned submission (results/contest-tuned.yaml).
CONTEST_BUDGET ?= 45
contest-tune: build
	@mkdir -p results
	$(BIN) contest tune --scale $(CONTEST_SCALE) --budget $(CONTEST_BUDGET) --models $(CONTEST_MODELS) \
	  --db results/contest.sqlite --out results/contest-tuned.yaml
	$(BIN) contest run --scale $(CONTEST_SCALE) --repeats 3 --models $(CONTEST_MODELS) \
	  --submission results/contest-tuned.yaml --db results/contest.sqlite --json results/contest-board.json

clean:
	rm -rf .build
