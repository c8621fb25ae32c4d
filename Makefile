# dtaas-services — developer entry points. `make run` and `make test` are the two set-up
# commands of the README; .ci/run calls `make test`.
SHELL := /bin/bash
CARGO ?= cargo
PLATFORM_DIR ?= $(CURDIR)/platform
# Where cargo puts its output (CARGO_TARGET_DIR when set, as cargo itself does).
TARGET_DIR := $(if $(CARGO_TARGET_DIR),$(abspath $(CARGO_TARGET_DIR)),$(CURDIR)/target)
BIN := $(TARGET_DIR)/release/dtaas-services

.PHONY: run build release test test-deps man lint fmt fmt-check clippy nextest e2e e2e-upstream bench images test-images snapshots clean-platform

## Build and bring up a local development platform in ./platform with the embedded defaults.
run: release
	@bash scripts/run-local.sh "$(PLATFORM_DIR)" "$(BIN)"

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release -p dtaas-services

## The live services the tests use (scripts/test-deps.sh sets them up for exactly these URLs);
## exported to every recipe, so `make test` and `make nextest` run with them.
export DTAAS_TEST_PG_URL ?= postgres://dtaas_test:dtaas_test@127.0.0.1:5432/dtaas_test
export DTAAS_TEST_RABBITMQ_URL ?= http://dtaas_test:dtaas_test@127.0.0.1:15672

## Everything CI checks: formatting, clippy with warnings denied, the whole test suite, after
## installing and starting what the suite needs (a quick no-op when it is all up).
test: test-deps
	$(MAKE) fmt-check clippy nextest

## Install and start PostgreSQL, RabbitMQ, Docker, the compose plugin, the test images and
## cargo-nextest (idempotent; needs root on a fresh Debian 12 machine).
test-deps:
	bash scripts/test-deps.sh

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

clippy lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

nextest:
	$(CARGO) nextest run --workspace --no-fail-fast

## End-to-end suite on the real engine: the whole platform with the local PostgreSQL and
## RabbitMQ images and the stand-ins, plus fault injection (projects/dtaas-services/tests/e2e).
## Also part of `make test` (nextest runs the whole workspace). Needs root, Docker, the
## compose v2 plugin, psql, curl and libnss-myhostname (HOSTNAME is <name>.localhost).
e2e:
	$(CARGO) build -p dtaas-services -p dtaas-jobs
	bash images/build.sh >/dev/null
	$(CARGO) nextest run -p dtaas-services --test e2e --no-fail-fast

## The whole platform on the pinned upstream images, for a maintainer's machine that can
## pull them (scripts/e2e-upstream.sh: install ThingsBoard and GitLab, `user add` on all
## seven, logins with the new passwords, password reset, every service ready). Not part of
## `make test`. Checks the images first and fails at once, naming the image, where they
## cannot be pulled.
e2e-upstream:
	@bash scripts/e2e-upstream.sh --preflight
	$(MAKE) release
	bash scripts/e2e-upstream.sh "$(BIN)"

## Benchmarks: writes docs/benchmarks.md (see scripts/bench.py).
bench: release
	@python3 scripts/bench.py $(if $(FULL),--full) $(if $(QUICK),--quick)

## Local test images (Debian minbase + PostgreSQL, RabbitMQ, stand-ins); cached by recipe hash.
test-images:
	bash images/build.sh

## Man pages and shell completions of dtaas-services, laid out as under /usr/share (the
## dtaas-services images install them): man/man1/*.1, bash-completion, zsh, fish.
SHARE_DIR := target/share
man: release
	bash scripts/share.sh $(BIN) $(SHARE_DIR)

## Container images of both binaries with no registry (projects/*/Dockerfile.offline): the
## binaries built on this host, with their libraries, on an empty base; tagged
## dtaas/dtaas-services:$(IMAGE_TAG) and dtaas/dtaas-jobs:$(IMAGE_TAG). IMAGE_PROFILE=debug
## builds them from debug binaries (the e2e tests `images::` do so with the same script).
## Where a registry is reachable, projects/*/Dockerfile builds the same images the
## conventional way (README, "Container images").
IMAGE_TAG ?= dev
IMAGE_PROFILE ?= release
images:
	$(CARGO) build $(if $(filter release,$(IMAGE_PROFILE)),--release) -p dtaas-services -p dtaas-jobs
	bash scripts/build-image.sh dtaas-services $(TARGET_DIR)/$(IMAGE_PROFILE) dtaas/dtaas-services:$(IMAGE_TAG)
	bash scripts/build-image.sh dtaas-jobs $(TARGET_DIR)/$(IMAGE_PROFILE) dtaas/dtaas-jobs:$(IMAGE_TAG)

## Review changed insta snapshots (needs cargo-insta).
snapshots:
	$(CARGO) insta review

clean-platform:
	rm -rf "$(PLATFORM_DIR)"
