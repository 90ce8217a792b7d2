# NexusForge: `make run` and `make test` set themselves up on first use.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DEPS_STAMP := $(VENV)/.deps-stamp
CORE_STAMP := $(VENV)/.core-stamp
RUST_SOURCES := $(shell find rust/src -name '*.rs' 2>/dev/null) rust/Cargo.toml
SHARED ?= ../shared
STORE ?= .store
CHALLENGERS ?= challengers

.PHONY: setup run test test-rust lint typecheck pytest bench clean audit lock

setup: $(CORE_STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Dependencies (and dev extras) from pyproject.toml; re-run only when it changes.
$(DEPS_STAMP): pyproject.toml | $(PY)
	$(PY) scripts/list_requirements.py pyproject.toml dev research > $(VENV)/requirements.txt
	$(PY) -m pip install --quiet -r $(VENV)/requirements.txt
	touch $@

# The Rust core, built in release mode and installed in develop (editable) mode.
# The first build installs the package editable (a .pth to python/); later builds only rebuild
# the extension in place.
$(CORE_STAMP): $(DEPS_STAMP) $(RUST_SOURCES)
	export VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH; \
	if [ -f $(VENV)/.editable ]; then maturin develop --release --skip-install; \
	else maturin develop --release && touch $(VENV)/.editable; fi
	touch $@

# The live engine with the six bundled champions against the local exchange (in-process, port
# 8931, replaying shared/data), until Ctrl-C; DURATION=10m bounds it; CONFIG=f.toml overrides.
run: setup
	NEXUSFORGE_SHARED=$(abspath $(SHARED)) $(VENV)/bin/nexusforge nexus run --log-level INFO \
		--challengers $(CHALLENGERS) \
		$(if $(CONFIG),--config $(CONFIG)) $(if $(DURATION),--duration $(DURATION))

test: setup test-rust lint typecheck pytest audit

# pip-audit (venv) and cargo audit (rust/Cargo.lock); skipped with a message when offline.
audit:
	$(VENV)/bin/python scripts/audit.py

lock:
	(echo "# Pinned from the working .venv (Python 3.11): \`make lock\` regenerates it; \`make audit\` checks it."; \
	 $(VENV)/bin/pip freeze --exclude-editable | grep -v "^-e\|^nexusforge") > requirements.lock

test-rust:
	cargo test --quiet --manifest-path rust/Cargo.toml

lint:
	$(VENV)/bin/ruff check python tests benchmarks scripts examples
	$(VENV)/bin/ruff format --check python tests benchmarks scripts examples
	cargo fmt --manifest-path rust/Cargo.toml -- --check
	cargo clippy --quiet --manifest-path rust/Cargo.toml --all-targets -- -D warnings
	cargo clippy --quiet --manifest-path rust/Cargo.toml --features python -- -D warnings

typecheck:
	$(VENV)/bin/mypy
	$(PY) -m mypy.stubtest nexusforge._core --allowlist .mypy-stubtest-allowlist

pytest:
	$(VENV)/bin/pytest -q

bench: setup
	$(PY) benchmarks/book_replay.py
	$(PY) benchmarks/features_batch.py
	$(PY) benchmarks/vmd_window.py
	$(PY) benchmarks/backtest_throughput.py
	$(PY) benchmarks/sim_throughput.py
	$(PY) benchmarks/tick_to_order.py

clean:
	rm -rf $(VENV) rust/target $(STORE) python/nexusforge/_core*.so
