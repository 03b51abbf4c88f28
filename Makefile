# Simpul: two commands. `make demo` runs the main job; `make test` runs the test suite.
# Both set up the pinned environment first (uv + uv.lock; nothing is installed unpinned).

UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
export UV_PYTHON_PREFERENCE := only-system
export AIRFLOW_HOME ?= $(CURDIR)/var/airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__LOAD_EXAMPLES := False

.PHONY: setup demo test lint bench airflow simulate clean

setup:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
	  || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	@$(UV) sync --frozen --quiet

demo: setup
	@$(UV) run --frozen simpul demo

test: setup
	@bash scripts/ensure-postgres.sh
	@bash scripts/ensure-chromium.sh
	@bash scripts/ensure-sshd.sh
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen pytest

lint: setup
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .

bench: setup
	@$(UV) run --frozen python -m bench $(BENCH_ARGS)

simulate: setup
	@$(UV) run --frozen simpul simulate up --exchange-receivers $(SIMULATE_ARGS)

airflow: setup
	@bash scripts/airflow-standalone.sh

clean:
	rm -rf var .pytest_cache
