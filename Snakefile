# One module per paper. `snakemake papers/<p>` (or `papers/<p>/`) runs that paper's workflow; `snakemake all` runs
# every paper and the dashboard. Scale: --config scale=smoke|cpu|full (default cpu).
import sys

from snakemake.utils import min_version

from repro import preflight

min_version("9.0")
preflight.checked(preflight.check_config, config)     # unknown --config keys, a bad scale: one line, before any job
config.setdefault("scale", "cpu")

# A paper is its folder: every papers/<p>/ with a Snakefile (which includes workflows/paper.smk)
PAPERS = preflight.papers()


def verdicts(paper):
    """A paper's verdicts at this scale: asking for claims.json too remakes a deleted one (from the runs present)."""
    return [f"results/{paper}/{config['scale']}/claims.json", f"results/{paper}/{config['scale']}/.verified"]


rule all:
    input: [f for p in PAPERS for f in verdicts(p)], "results/dashboard/index.html"
    localrule: True


# Data sets from data/registry.yaml, checksums verified (REPRO_DATA_MIRROR=DIR: offline, from a mirror directory).
rule fetch_data:
    output: "data/{dataset}/.fetched"
    localrule: True
    shell: "{sys.executable} -m repro.data fetch {wildcards.dataset}"


# One module per paper folder: its rules run as <paper>_<rule> (papers/<p>/Snakefile includes workflows/paper.smk)
for paper_name in PAPERS:
    module:
        name: paper_name
        snakefile: f"papers/{paper_name}/Snakefile"
        config: config

    paper_rules = f"{paper_name}_"          # the rules' prefix: Snakemake reads it from this variable
    use rule * from paper_name as paper_rules*


# One static page with every paper's claims (analysis/dashboard.py). `snakemake dashboard` draws it from the verdicts
# present now (results/<p>/<scale>/claims.json: the committed ones on a fresh clone) and runs nothing else; `snakemake
# all` builds every paper's verdicts at this scale first, then the page. `--config compare=REF` (a results directory
# or a git revision, e.g. HEAD) adds what changed against REF. The page and the claim figures are `snakemake --report`
# items of `all`.
DASHBOARD = f"{sys.executable} -m analysis.dashboard --out results/dashboard/index.html" + (
    f" --compare {config['compare']}" if config.get("compare") else "")


rule dashboard:
    # no output: a rule without one runs whenever it is asked for, and asks for nothing upstream
    localrule: True
    shell: DASHBOARD


rule dashboard_page:
    input: [f for p in PAPERS for f in verdicts(p)]
    output:
        page=report("results/dashboard/index.html", category="Dashboard",
                    caption="workflows/report/dashboard.rst"),
        figures=report(directory("results/dashboard/figures"), patterns=["{paper}/{claim}.png"],
                       category="Claim figures", subcategory="{paper}", labels={"paper": "{paper}", "claim": "{claim}"},
                       caption="workflows/report/claim_figure.rst"),
    localrule: True
    shell: DASHBOARD


# `snakemake papers/mamba` would otherwise name a file (the code folder): rules with these exact names win.
for _p in PAPERS:
    for _name in (f"papers/{_p}", f"papers/{_p}/"):
        rule:
            name: _name
            input: verdicts(_p)
            localrule: True


# `snakemake papers/<typo>`: refused while the DAG is built (also under -n), naming the papers
rule:
    name: "unknown_paper"
    input: lambda w: preflight.checked(preflight.unknown_paper, w.name, PAPERS)
    output: "papers/{name}"
    localrule: True
    wildcard_constraints:
        name=r"(?!(" + "|".join(PAPERS) + r")/?$)[^/]+/?"
