"""Checks the workflow runs while Snakemake reads the Snakefiles, before any job starts (and under ``snakemake -n``):
everything a user can get wrong on the command line or in a paper's files is refused with one line that names the
thing and the valid choices, instead of failing at the end, after all the training.

- ``--config`` keys (:data:`CONFIG_KEYS`) and the scale;
- ``set="section.key=value ..."``: every key must exist in the paper's config and keep its type, for every
  experiment it would reach (repro/config.py's ``resolve``);
- the paper's claims.yaml (analysis/claims.py's schema, and the experiments it names against config.yaml);
- a target ``papers/<name>`` that names no paper (the Snakefile's catch-all rule).
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

from repro.config import SCALES, ConfigError, load_paper_config, resolve

# every key `--config` takes, and what it means (the one-line refusal lists them)
CONFIG_KEYS = {
    "scale": "smoke|cpu|full",
    "set": '"section.key=value ..." overrides for every run',
    "compare": "a results directory or git revision the dashboard compares with",
}


class PreflightError(ValueError):
    """Something a user typed or wrote that the workflow refuses before it starts."""


def check_config(config: dict) -> None:
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        valid = "; ".join(f"{k}={v}" for k, v in CONFIG_KEYS.items())
        raise PreflightError(f"unknown --config key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                             f"valid: {valid}")
    scale = config.get("scale", "cpu")
    if scale not in SCALES:
        raise PreflightError(f"--config scale={scale}: not a scale; valid: {', '.join(SCALES)}")


def overrides(config: dict) -> list[str]:
    """``set="train.steps=100 train.lr=1e-3"`` as a list of ``section.key=value`` items."""
    return shlex.split(str(config.get("set") or ""))


def papers(root: Path = Path("papers")) -> list[str]:
    """A paper is its folder: every ``papers/<p>/`` with a Snakefile, by name."""
    return sorted(p.name for p in Path(root).iterdir() if (p / "Snakefile").exists())


def targeted(paper: str, papers: list[str], argv: list[str] | None = None) -> bool:
    """Whether this Snakemake call asks for ``paper``: its command line names ``papers/<paper>`` or one of its
    ``results/<paper>/`` files, or names no paper at all (``all``, the default target). A ``set=`` override is
    checked against the papers asked for only: a key of one paper's config is unknown to another's."""
    words = [w for w in (sys.argv[1:] if argv is None else argv) if not w.startswith("-")]

    def names(p):
        return any(w.rstrip("/") == f"papers/{p}" or w.startswith(f"results/{p}/") for w in words)
    return names(paper) or not any(names(p) for p in papers)


def check_paper(paper_dir: Path, scale: str, items: list[str], experiments: list[str]) -> dict:
    """Resolve every experiment the workflow will run with the user's overrides, and load the claims against the
    paper's experiments. Returns ``{experiment: resolved config}``."""
    from analysis.claims import ClaimsError, load_claims

    paper_dir = Path(paper_dir)
    pcfg = load_paper_config(paper_dir / "config.yaml")
    resolved = {}
    for e in experiments:
        try:
            resolved[e] = resolve(pcfg, e, scale, items)
        except ConfigError as err:
            where = f"set={' '.join(items)!r}: " if items else ""
            raise PreflightError(f"{paper_dir}: {where}{err}") from err
    try:
        load_claims(paper_dir / "claims.yaml", experiments=list(pcfg["experiments"]))
    except ClaimsError as err:
        raise PreflightError(str(err)) from err
    return resolved


def unknown_paper(name: str, papers: list[str]) -> None:
    raise PreflightError(f"no paper {name.rstrip('/')!r}; papers: {', '.join(papers)} (targets: papers/<paper>, "
                         f"all, dashboard)")


def refuse(error: Exception) -> None:
    """One line on stderr and exit status 2: Snakemake stops before building the DAG."""
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)


def checked(fn, *args, **kwargs):
    """``fn(*args)``, refusing (one line, exit 2) on any configuration error."""
    try:
        return fn(*args, **kwargs)
    except (PreflightError, ConfigError) as e:
        refuse(e)
