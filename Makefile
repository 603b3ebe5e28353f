# make demo   pretrain a small character-level Mamba on the bundled E. coli genome (CPU, minutes)
# make test   run the test suite (CPU only)
# Both create .venv on first use: make demo installs the package, make test adds the test tools (.[dev]).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= outputs/demo
TEST_WORKERS ?= auto

.PHONY: install install-dev demo test bench-cpu clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU build first: a bare `pip install torch` pulls several GB of CUDA packages
	$(PY) -m pip install -q torch==2.13.0 || $(PY) -m pip install -q torch
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	@# a fresh run folder each time (a second run into the old one would append its steps to metrics.csv);
	@# only a folder under outputs/ is removed: any other DEMO_DIR must not exist yet
	@case "$(abspath $(DEMO_DIR))/" in \
	  "$(CURDIR)/outputs/"?*) rm -rf "$(DEMO_DIR)" ;; \
	  *) if [ -e "$(DEMO_DIR)" ]; then echo "make demo: DEMO_DIR=$(DEMO_DIR) exists and is not under outputs/;" \
	       "remove it or name a new folder" >&2; exit 1; fi ;; \
	esac
	$(VENV)/bin/genomamba-train experiment=pretrain_ecoli_tiny hydra.run.dir=$(DEMO_DIR)
	$(VENV)/bin/genomamba-score fasta $(DEMO_DIR)/model data/lambda_phage.fa.gz -o $(DEMO_DIR)/lambda_scores.tsv \
		--tracks $(DEMO_DIR)/lambda_ll.bedGraph -q
	@# a Markov baseline on the same split: fitted on the training part, scored with the model on the held-back part
	$(PY) workflows/scripts/demo_summary.py split data/ecoli_mg1655.fa.gz $(DEMO_DIR)/split
	$(VENV)/bin/genomamba-score fit-markov -k 6 -q --force -o $(DEMO_DIR)/markov $(DEMO_DIR)/split/train.fa
	$(VENV)/bin/genomamba-score fasta $(DEMO_DIR)/markov $(DEMO_DIR)/split/valid.fa -o $(DEMO_DIR)/valid_markov.tsv -q
	$(VENV)/bin/genomamba-score fasta $(DEMO_DIR)/model $(DEMO_DIR)/split/valid.fa -o $(DEMO_DIR)/valid_model.tsv -q
	@$(PY) workflows/scripts/demo_summary.py summary $(DEMO_DIR)

test: install-dev
	@# across $(TEST_WORKERS) pytest-xdist workers; then the longer end-to-end tests marked `slow`
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal -m slow

bench-cpu: install
	$(PY) benchmarks/bench_loader.py
	$(PY) benchmarks/bench_scan_cpu.py --quick

clean:
	rm -rf $(VENV) outputs
