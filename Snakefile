# One module per paper. `snakemake papers/<p>` (or `papers/<p>/`) runs that paper's workflow; `snakemake all` runs
# every paper. Scale: --config scale=smoke|cpu|full (default cpu).
import sys

from snakemake.utils import min_version

min_version("9.0")
config.setdefault("scale", "cpu")

PAPERS = ["mamba", "gnn", "sae", "moe"]


rule all:
    input: [f"results/{p}/.verified.{config['scale']}" for p in PAPERS]
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


# One static page with every paper's claims (analysis/dashboard.py), from the verdicts present now; it is rebuilt
# when they change. `snakemake dashboard`.
import hashlib as _hashlib
from pathlib import Path as _Path
_CLAIMS = sorted(_Path("results").glob("*/claims.json"))

rule dashboard:
    input: [m for m in (f"results/{p}/.verified.{config['scale']}" for p in PAPERS) if _Path(m).exists()]
    output: "results/dashboard/index.html"
    params: claims=_hashlib.sha256(b"".join(p.read_bytes() for p in _CLAIMS)).hexdigest()[:16]
    localrule: True
    shell: "{sys.executable} -m analysis.dashboard --out {output}"


# `snakemake papers/mamba` would otherwise name a file (the code folder): rules with these exact names win.
for _p in PAPERS:
    for _name in (f"papers/{_p}", f"papers/{_p}/"):
        rule:
            name: _name
            input: f"results/{_p}/.verified.{config['scale']}"
            localrule: True
