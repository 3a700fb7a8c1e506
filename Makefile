# faceflash-batch: the two commands a newcomer needs are `make demo` and `make test`.
CARGO ?= cargo

.PHONY: setup test demo bench lint clean-demo

## Install what the project needs (Python .venv with test tools); idempotent.
setup:
	bash scripts/setup.sh

## Format check, lints, and every test (what CI runs).
test: setup
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test

## The main job on built-in synthetic data (debug build: no 30-minute release build of DataFusion).
demo: setup
	$(CARGO) run --quiet -- demo

## Criterion benchmarks of the core (release build without the sql/vision features).
bench: setup
	$(CARGO) bench --no-default-features

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

clean-demo:
	rm -rf faceflash-demo
