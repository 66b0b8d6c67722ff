"""One look of the adaptive-seed design: which experiments need more seeds (analysis/sequential.py).

    python -m analysis.seed_plan papers/sae --scale cpu --look 0 --out results/sae/plan/cpu/look0.json

Judges every claim on the first n_k seeds (the look's number) and writes the experiments of the claims still
undecided there, with the number of seeds the next look needs: the workflow's ``seed_plan`` checkpoint reads it and
schedules those runs (workflows/paper.smk). The last look, or a look that decides every claim, plans nothing.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.claims import ClaimsError, experiments_of
from analysis.verify import MissingRunError, verify
from repro import config as rconfig
from repro import runio


def plan(paper_dir: Path, scale: str, look: int, results: Path | None = None) -> dict:
    pcfg = rconfig.load_paper_config(Path(paper_dir) / "config.yaml")
    looks = rconfig.seed_design(pcfg, scale)["looks"]
    if not 0 <= look < len(looks):
        raise rconfig.ConfigError(f"look {look} does not exist: scale {scale} has looks {looks}")
    report = verify(paper_dir, scale, results, max_seeds=looks[look])
    open_claims = [c for c in report["claims"] if (c.get("sequential") or {}).get("next_seeds")]
    experiments = sorted({e for c in open_claims for e in experiments_of(c)})
    nxt = looks[look + 1] if look + 1 < len(looks) and experiments else None
    return {"paper": report["paper"], "scale": scale, "look": look, "seeds": looks[look], "next_seeds": nxt,
            "undecided": [c["id"] for c in open_claims], "experiments": experiments if nxt else []}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paper_dir", type=Path)
    p.add_argument("--scale", default="cpu")
    p.add_argument("--look", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--results", type=Path, default=None)
    args = p.parse_args(argv)
    try:
        out = plan(args.paper_dir, args.scale, args.look, args.results)
    except (ClaimsError, rconfig.ConfigError, MissingRunError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    runio.write_json(args.out, out)
    more = (f"{len(out['undecided'])} claims undecided at {out['seeds']} seeds: {', '.join(out['experiments'])} "
            f"go to {out['next_seeds']} seeds") if out["next_seeds"] else f"no more seeds needed after {out['seeds']}"
    print(f"{out['paper']} look {args.look}: {more}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
