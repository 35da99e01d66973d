# secateurs: `make export` runs the pipeline on a builtin model, `make test` runs the test suite.
PYTHON     ?= python3
VENV       ?= .venv
# torch==2.13.0 resolves to the local CPU wheel on our machines; from PyPI on Linux it is the CUDA
# build (README: "Which PyTorch build you get"). Override e.g. TORCH_SPEC='torch==2.14.1'.
TORCH_SPEC ?= torch==2.13.0
MODEL      ?= builtin:resnet
# OUT defaults to artifacts/<model name>, chosen by the CLI.
AMOUNT     ?= 0.3
ARGS       ?=
OUT        ?=
# pytest-xdist workers for `make test` (auto: one per CPU); TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= auto
# More pytest arguments, e.g. PYTEST_ARGS=--browser (.ci/run) for report.html's chromium screenshots.
PYTEST_ARGS ?=

BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install export test verify-runtime lint format bench bench-detect bench-ray bench-size bench-channels bench-finetune train clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[export,dev,ray]"
	touch $(STAMP)

export: $(STAMP)
	$(BIN)/secateurs run $(MODEL) --amount $(AMOUNT) $(if $(OUT),--out $(OUT)) $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The deploy side: a fresh venv with `secateurs[runtime]` only (no PyTorch) verifies $(OUT).
RUNTIME_VENV ?= .venv-runtime
verify-runtime:
	test -n "$(OUT)" || { echo "usage: make verify-runtime OUT=artifacts/<dir>"; exit 2; }
	rm -rf $(RUNTIME_VENV)
	$(PYTHON) -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(RUNTIME_VENV)/bin/python -m pip install --quiet ".[runtime]"
	! $(RUNTIME_VENV)/bin/python -c "import torch" 2>/dev/null
	$(RUNTIME_VENV)/bin/secateurs verify $(OUT) $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_verify.py
	$(BIN)/python benchmarks/bench_tuning.py

bench-detect: $(STAMP)
	$(BIN)/python benchmarks/bench_detect.py

bench-finetune: $(STAMP)
	$(BIN)/python benchmarks/bench_finetune.py

# --executor ray against local (sensitivity on builtin:resnet; a batch on a 2-node loopback cluster)
bench-ray: $(STAMP)
	$(BIN)/python benchmarks/bench_ray.py

bench-size: $(STAMP)
	$(BIN)/python benchmarks/bench_size.py
	$(BIN)/python benchmarks/bench_builtin_sizes.py
	$(BIN)/python benchmarks/bench_compressors.py

# Parameters, MACs and onnxruntime latency, dense against pruned (benchmarks/CHANNELS.md).
bench-channels: $(STAMP)
	$(BIN)/python benchmarks/bench_channels.py

# Retrain the builtin demo models (deterministic; the shipped weights came from this).
train: $(STAMP)
	$(BIN)/python -m secateurs.models.train --model all

clean:
	rm -rf artifacts .pytest_cache .ruff_cache benchmarks/out
