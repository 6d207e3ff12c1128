# The two commands of the README: `make train` and `make test`. Each creates
# .venv on first use and installs the project into it.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install train test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# CPU build of torch first: a bare `torch` requirement pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[rl,dev]'
	touch $(STAMP)

install: $(STAMP)

# PPO on the 8-node mesh with FedAvg + DP for 5 minutes, then the checkpoint against the
# baselines; each run gets its own directory under runs/ (progress, checkpoints, W&B offline).
TRAIN_TIME ?= 300
train: $(STAMP)
	$(BIN)/qenv train --config configs/dpem_quick.yaml --stop-time $(TRAIN_TIME) \
		--storage-path runs/dpem_quick-$$(date +%Y%m%d-%H%M%S)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --durations=15
	$(BIN)/ruff check qenv agents training tests bench
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check qenv agents training tests bench
	$(BIN)/ruff format --check qenv agents training tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.run --out bench/results.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
