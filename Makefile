# Two commands for a fresh machine (Python 3.11, Java 17 and Maven on PATH):
#   make demo   runs the hub: local Kafka broker, topics, worker, a simulated district
#   make test   runs the whole test suite (starts its own broker on free ports)
# Both create .venv and install the project into it first.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# the suite runs in this many processes (pytest-xdist, a test file at a time), each with a
# broker of its own; 0: in this process only
TEST_JOBS ?= 2

.PHONY: demo test install lint bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/hub demo

test: $(STAMP)
	@start=$$(date +%s); \
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS); rc=$$?; \
	echo "test suite took $$(( $$(date +%s) - start )) s"; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check hub connectors tests bench

bench: $(STAMP)
	$(BIN)/python bench/bench_codec.py

clean:
	rm -rf $(VENV) .pytest_cache
