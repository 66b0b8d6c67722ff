# Two commands do all the set-up on a fresh machine with Python 3.11 and make:
#   make papers/mamba   creates .venv from the pinned requirements if needed, then runs the paper's workflow (cpu scale)
#   make test           same environment, runs the test suite
# Pass Snakemake arguments with ARGS, e.g.  make papers/mamba ARGS="--config scale=smoke"
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cat requirements.lock | md5sum | cut -c1-12)
PAPERS := $(patsubst papers/%/Snakefile,%,$(wildcard papers/*/Snakefile))

PAPER_TARGETS := $(addprefix papers/,$(PAPERS)) $(addsuffix /,$(addprefix papers/,$(PAPERS)))

.PHONY: venv test test-fast test-all bench bench-gnn bench-sae bench-moe bench-mamba-peer readme $(PAPER_TARGETS)

venv: $(STAMP)

$(STAMP): requirements.lock
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -r requirements.lock
	@$(VENV)/bin/python -m analysis.dvc_plots >/dev/null   # `dvc plots show`'s page template, Vega inlined (offline)
	@rm -f $(VENV)/.installed-* && touch $@

$(PAPER_TARGETS): papers/%: $(STAMP)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH snakemake papers/$(patsubst %/,%,$*) $(ARGS)

# ruff first (pyproject.toml's rules), then one pytest worker per core; a test file stays on one worker (its
# module fixtures are shared)
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -q -n auto --dist loadfile $(ARGS)

# unit and equivalence tests only (no workflow, DVC, browser or server): the quick check while editing
test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n auto --dist loadfile -m "not slow and not workflow and not integration" $(ARGS)

test-all: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n auto --dist loadfile -m "" $(ARGS)

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/bench_scan.py $(ARGS)

# each benchmark peer (PyTorch Geometric for GCN/GAT, SAELens, mambapy) lives in its own venv, built once from
# benchmarks/requirements-<peer>.txt
.venv-%/.installed: benchmarks/requirements-%.txt
	@test -x .venv-$*/bin/python || $(PYTHON) -m venv .venv-$*
	.venv-$*/bin/python -m pip install -q -r $<
	@touch $@

bench-gnn: $(STAMP) .venv-pyg/.installed
	$(VENV)/bin/python benchmarks/bench_gnn.py $(ARGS)

bench-sae: $(STAMP) .venv-saelens/.installed
	$(VENV)/bin/python benchmarks/bench_sae.py $(ARGS)

# Rewrite the verdict table in papers/<p>/README.md from results/<p>/cpu/claims.json
readme: $(STAMP)
	for p in $(PAPERS); do $(VENV)/bin/python -m analysis.readme_table papers/$$p; done

bench-moe: $(STAMP)
	$(VENV)/bin/python benchmarks/bench_moe.py $(ARGS)

bench-mamba-peer: $(STAMP) .venv-mambapy/.installed
	$(VENV)/bin/python benchmarks/bench_mamba_peer.py $(ARGS)
