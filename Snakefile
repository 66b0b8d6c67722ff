# One module per paper. `snakemake papers/<p>` (or `papers/<p>/`) runs that paper's workflow; `snakemake all` runs
# every paper and the dashboard. Scale: --config scale=smoke|cpu|full (default cpu).
import sys

from snakemake.utils import min_version

min_version("9.0")
config.setdefault("scale", "cpu")

PAPERS = ["mamba", "gnn", "sae", "moe"]


rule all:
    input: [f"results/{p}/.verified.{config['scale']}" for p in PAPERS], "results/dashboard/index.html"
    localrule: True


# Data sets from data/registry.yaml, checksums verified (REPRO_DATA_MIRROR=DIR: offline, from a mirror directory).
rule fetch_data:
    output: "data/{dataset}/.fetched"
    localrule: True
    shell: "{sys.executable} -m repro.data fetch {wildcards.dataset}"


module mamba:
    snakefile: "papers/mamba/Snakefile"
    config: config

use rule * from mamba as mamba_*


module gnn:
    snakefile: "papers/gnn/Snakefile"
    config: config

use rule * from gnn as gnn_*


module sae:
    snakefile: "papers/sae/Snakefile"
    config: config

use rule * from sae as sae_*


module moe:
    snakefile: "papers/moe/Snakefile"
    config: config

use rule * from moe as moe_*


# One static page with every paper's claims (analysis/dashboard.py), built after every paper at this scale is
# verified: `snakemake dashboard` (part of the default target). `--config compare=REF` (a results directory or a git
# revision, e.g. HEAD) adds what changed against REF. `python -m analysis.dashboard` draws the page from the verdicts
# present now without running anything. The page and the claim figures are `snakemake --report` items.
rule dashboard:
    input: [f"results/{p}/.verified.{config['scale']}" for p in PAPERS]
    output:
        page=report("results/dashboard/index.html", category="Dashboard",
                    caption="workflows/report/dashboard.rst"),
        figures=report(directory("results/dashboard/figures"), patterns=["{paper}/{claim}.png"],
                       category="Claim figures", subcategory="{paper}", labels={"paper": "{paper}", "claim": "{claim}"},
                       caption="workflows/report/claim_figure.rst"),
    params: compare=f"--compare {config['compare']}" if config.get("compare") else ""
    localrule: True
    shell: "{sys.executable} -m analysis.dashboard --out {output.page} {params.compare}"


# `snakemake papers/mamba` would otherwise name a file (the code folder): rules with these exact names win.
for _p in PAPERS:
    for _name in (f"papers/{_p}", f"papers/{_p}/"):
        rule:
            name: _name
            input: f"results/{_p}/.verified.{config['scale']}"
            localrule: True
