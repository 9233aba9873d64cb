# The two commands a newcomer needs: `make demo` and `make test`. Everything else is optional.
#
# Installs are locked: requirements-dev.txt (everything, with hashes) and requirements.txt (what
# a deployment runs) are made from pyproject.toml by `make lock`, and nothing else installs a
# package. The venv holds exactly the lock: uv itself comes from it, checked against its hashes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
LOCKS := requirements.txt requirements-dev.txt
STAMP := $(VENV)/.installed-$(shell cat $(LOCKS) pyproject.toml | cksum | cut -d' ' -f1)
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# uv runs on the machine's Python, never one it downloads, and knows only the index it is given.
export UV_PYTHON_DOWNLOADS := never
export UV_NO_CONFIG := 1
# `make lock UPGRADE=1` moves every pin to the newest allowed release; `UPGRADE=botocore` moves one.
UPGRADE ?=
UPGRADE_FLAG := $(if $(UPGRADE),$(if $(filter 1,$(UPGRADE)),--upgrade,--upgrade-package $(UPGRADE)))
COMPILE = $(abspath $(UV)) pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--quiet --custom-compile-command "make lock" $(UPGRADE_FLAG)

.PHONY: demo test install lint lock lock-check format bench serve hooks clean

demo: $(STAMP)
	$(BIN)/costbot demo $(ARGS)

# One worker per core (pytest-xdist); a file's tests stay together, so a module's fixtures
# (a demo sandbox, a moto) are built once. `make test TEST_WORKERS=0` runs in one process.
TEST_WORKERS ?= auto
test: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

install: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("costbot needs Python 3.11 or newer (found %s); set PYTHON=python3.11" % sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

# uv's own pin and hashes are read from the lock, so pip installs nothing the lock does not name.
$(UV): requirements-dev.txt | $(BIN)/python
	awk '/^uv==/{on=1; print; next} on && /^ +--hash/{print; next} {on=0}' requirements-dev.txt \
		> $(VENV)/uv-requirement.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
		-r $(VENV)/uv-requirement.txt
	@touch $@

# `pip sync` makes the venv exactly the lock (it removes what the lock does not name); costbot
# itself is then installed editable, built by the lock's setuptools.
$(STAMP): $(UV) $(LOCKS) pyproject.toml
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes requirements-dev.txt
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $@

# Refresh the lock on purpose: the only way it changes. With nothing changed it is reproduced as is.
lock: $(UV)
	$(COMPILE) -o requirements.txt
	$(COMPILE) --extra dev -c requirements.txt -o requirements-dev.txt

# Fails when pyproject.toml and the lock were edited one without the other (CI runs it).
lock-check: $(UV)
	@tmp=$$(mktemp -d) && cp pyproject.toml $(LOCKS) $$tmp/ \
		&& (cd $$tmp && $(COMPILE) -o requirements.txt \
			&& $(COMPILE) --extra dev -c requirements.txt -o requirements-dev.txt) \
		&& for f in $(LOCKS); do \
			diff -u --label "$$f (committed)" --label "$$f (from pyproject.toml)" $$f $$tmp/$$f \
			|| { echo "$$f does not match pyproject.toml: run 'make lock' and commit both." >&2; \
			     rm -rf $$tmp; exit 1; }; \
		done; rm -rf $$tmp; echo "lock matches pyproject.toml"

# The end-to-end tests drive Debian's Chromium (no browser download); the emoji font makes
# the screenshots in docs/ show emoji, not boxes.
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

# The same checks as `make lint`, before each commit (.pre-commit-config.yaml).
hooks: $(STAMP)
	$(BIN)/pre-commit install

# Every script in benchmarks/, one after the other, then one summary table (.bench/summary.json).
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(ARGS)

serve: $(STAMP)
	$(BIN)/costbot serve

clean:
	rm -rf $(VENV) .demo .pytest_cache *.egg-info
