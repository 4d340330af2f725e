# The two entry points of the README. Each installs what it needs first, so both work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: synth synth-all test test-fast lint docs tools bench bench-helm bench-runtime clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	# app.py runs under -O (see app.py): its bytecode too, for the libraries as well
	$(BIN)/python -m compileall -q -j 0 -o 0 -o 1 constructs imports app.py \
		"$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null
	touch $@

## Synthesize the default environment into dist/default.k8s.yaml
synth: $(BIN)/.installed
	$(BIN)/python app.py default

## Synthesize every environment in config/ into dist/
synth-all: $(BIN)/.installed
	$(BIN)/python app.py

## Regenerate everything generated: the configuration reference (docs/configuration.md), the README's contents and
## generated sections (command line, diff verdicts and examples), schema/environment.schema.json and every page of
## docs/environments/
docs: $(BIN)/.installed
	$(BIN)/python -m mlflow_constructs.config.reference --write
	$(BIN)/python -m mlflow_constructs.readme --write
	$(BIN)/python app.py explain --write

## Tools the checks call (checkov and actionlint in .tools/; bubblewrap, PostgreSQL, image venvs and the
## OpenID provider for the runtime tests in .runtime/; mermaid for the diagram tests in tests/docs/;
## kube-apiserver, etcd and kubectl built from source in .runtime/apiserver/). Idempotent; the first run
## takes ~7 minutes plus ~40 for the Go build and ~7 for the old-release venvs of the upgrade scenarios.
tools: $(BIN)/.installed
	bash tests/validity/install-tools.sh
	bash tests/runtime/setup.sh
	bash tests/docs/setup.sh
	bash tests/apiserver/install.sh

## Lint and format check (ruff)
lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## The whole test suite: lint, contracts, snapshots, schemas, security and runtime tests
test: tools lint
	RUNTIME_TESTS=require $(BIN)/python -m pytest

## Everything but the runtime, API-server, browser, wheel and slow tests (no servers or browsers started), on
## every core, with 12 of the 60 generated configs: the edit-test loop (`make test` runs all of it)
test-fast: export MLFLOW_K8S_GENERATED_EXAMPLES = 12
test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not runtime and not apiserver and not browser and not package and not slow" -n auto

## Synthesis timings (medians), as quoted in the README
bench: $(BIN)/.installed
	$(BIN)/python bench/synth_bench.py

## Synthesis (cold: no cache; warm: cache filled, one config changed) against `helm template` of the
## community-charts/mlflow chart (bench/helm/), one process per environment, at 1, 10 and 100 environments;
## builds helm into .tools/helm/ first (needs Go; not part of `make test`)
bench-helm: $(BIN)/.installed
	bash bench/install-helm.sh
	$(BIN)/python bench/helm_bench.py

## The server pod as synthesized, with 1, 2 and 4 workers, against `mlflow server` with MLflow's defaults, run
## for real and interleaved (needs root and `make tools`; not part of `make test`). BENCH_ENV=<environment>
## BENCH_RUNS=<n> to change the defaults.
BENCH_ENV ?= default
BENCH_RUNS ?= 3
bench-runtime: $(BIN)/.installed
	$(BIN)/python bench/runtime_bench.py --env $(BENCH_ENV) --runs $(BENCH_RUNS)

clean:
	rm -rf $(VENV) .pytest_cache .tools .runtime  # dist/ is committed output: `make synth-all` rewrites it
