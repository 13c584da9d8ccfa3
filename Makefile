# Two commands on a fresh machine (Python 3.11 + pip):  `make run`  and  `make test`; `make lab` opens the notebooks.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch: TORCH_SPEC from pip's index (a machine with a local CPU wheel of the pin takes it). On an ordinary Linux
# machine PyPI's torch is the CUDA build (GBs); a CPU-only machine gets the CPU wheel with
#   make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
ARGS ?=
PYTEST_ARGS ?=
LAB_ARGS ?=

# A laptop-class CPU on this one: every library that picks its kernels by the CPU held to AVX2 (torch's own kernels,
# oneDNN, MKL for torch's matmuls, OpenBLAS for numpy's and scipy's, numba's generated code); without the MKL and
# OpenBLAS switches their matmuls still ran AVX-512, 1.55-1.85x faster than on AVX2 (BENCHMARKS.md, "Held to AVX2").
# benchmarks/run.py holds the same (tests/test_held_to_avx2.py)
HELD_TO_AVX2 = ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 OPENBLAS_CORETYPE=Haswell \
	NUMBA_CPU_NAME=haswell NUMBA_CPU_FEATURES=

.PHONY: setup run test test-avx2 colab-test lab colab editions bench-scale clean-runs

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-nodeps.txt requirements-dev-nodeps.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "setup: $(TORCH_SPEC) from $(if $(TORCH_INDEX),$(TORCH_INDEX),pip's default index (on Linux PyPI gives the CUDA build; TORCH_INDEX=https://download.pytorch.org/whl/cpu gives the CPU wheel))"
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-dev-nodeps.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

## run: all notebooks, offline default, into runs/<name>/ (ARGS="--name x -p sample_size 500")
run: setup
	$(BIN)/python tools/run.py $(ARGS)

## test: unit tests and every notebook executed with papermill on a small sample
test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## test-avx2: the suite again as an AVX2-only CPU runs it ("auto" precision is fp32), all but the tests marked
## same_on_any_cpu (what they assert no precision changes: `make test` ran them); like `make test` it starts from an
## empty cache of its own (tests/conftest.py), so nothing of the other precision is read
test-avx2: setup
	$(HELD_TO_AVX2) $(BIN)/python -m pytest -m "not colab_runtime and not same_on_any_cpu" $(PYTEST_ARGS)

## colab-test: the Colab editions in a Colab-like environment (Colab's package versions), each in a fresh runtime
## (05, 06 and 07 run in the all-in-one edition: tests/test_colab_runtime.py)
colab-test: setup
	$(BIN)/python tools/colab_env.py build
	$(BIN)/python -m pytest -m colab_runtime tests/test_colab_runtime.py $(PYTEST_ARGS)

## lab: JupyterLab on notebooks/ with the project's environment as its kernel (LAB_ARGS="--no-browser --port 8899")
lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

## colab: regenerate colab/ from notebooks/ and helpers/ (never edit colab/ by hand)
colab: setup
	$(BIN)/python tools/build_colab.py

## editions: run the series offline on a sample and rewrite editions/ (the executed notebooks GitHub shows; needs chromium)
editions: setup
	$(BIN)/python tools/build_editions.py

## bench-scale: every stage after embedding at 10k, 30k and 117,592 documents, time and peak memory (ARGS="--sizes 10000")
bench-scale: setup
	$(BIN)/python benchmarks/scale.py $(ARGS)

clean-runs:
	rm -rf runs
