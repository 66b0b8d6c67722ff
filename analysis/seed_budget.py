"""What a scale's seed design will cost before it runs: the first look's runs, and the most the later looks can add.

    python -m analysis.seed_budget papers/mamba papers/gnn papers/sae papers/moe [--scale cpu] [--cores 2]

Per paper: the seed design (repro.config.seed_design), the seconds one seed of each experiment took at this scale
(``results/<paper>/<scale>/timings.json``, written by the verification from the runs' metrics.json), and which claims
the committed verdicts leave undecided at the first look when re-judged under this design from their recorded
per-seed values (analysis/rejudge.py; nothing is trained). Prints the work of the first look, the work the later
looks add if those claims stay undecided to the design's maximum (an upper bound: a claim decided at a middle look
stops there), and both as wall time on ``--cores`` (jobs side by side, one core each). Experiments without a recorded
time are listed, not guessed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from analysis import verify as V
from analysis.rejudge import Recorded
from repro import config as rconfig
from repro import plan_time, progress, tracking


def budget(paper_dir: Path, scale: str, results: Path | None = None) -> dict:
    paper_dir, results = Path(paper_dir), Path(results or tracking.results_dir())
    pcfg = rconfig.load_paper_config(paper_dir / "config.yaml")
    paper, design = pcfg["paper"], rconfig.seed_design(pcfg, scale)
    looks = design["looks"]
    blocked = V.blocked_experiments(pcfg, scale)
    experiments = [e for e in pcfg["experiments"] if e not in blocked]
    times = (plan_time.load(results, paper, scale) or {}).get("experiments") or {}
    per = {e: times[e]["seconds_per_seed"] for e in experiments if e in times}
    undecided, more = [], set()
    committed = results / paper / scale / "claims.json"
    if committed.exists() and len(looks) > 1:
        old = json.loads(committed.read_text())
        report = V.verify(paper_dir, scale, results, max_seeds=looks[0], source=Recorded(old, paper_dir, scale))
        for c in report["claims"]:
            if (c.get("sequential") or {}).get("next_seeds"):
                undecided.append(c["id"])
                more.update(c["experiments"])
    first = sum(per.get(e, 0.0) * looks[0] for e in experiments)
    later = sum(per.get(e, 0.0) * (looks[-1] - looks[0]) for e in more)
    return {"paper": paper, "looks": looks, "first_look_s": first, "later_looks_max_s": later,
            "undecided_at_first_look": undecided, "experiments_adding_seeds": sorted(more),
            "without_a_time": [e for e in experiments if e not in per]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paper_dirs", type=Path, nargs="+")
    p.add_argument("--scale", default="cpu")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--results", type=Path, default=None)
    args = p.parse_args(argv)
    dur = progress.duration
    total_first = total_max = 0.0
    try:
        for d in args.paper_dirs:
            b = budget(d, args.scale, args.results)
            total_first += b["first_look_s"]
            total_max += b["first_look_s"] + b["later_looks_max_s"]
            print(f"{b['paper']} ({args.scale}), looks {b['looks']}: first look {dur(b['first_look_s'])} of work; "
                  f"later looks at most {dur(b['later_looks_max_s'])} more "
                  f"({len(b['undecided_at_first_look'])} claims undecided at {b['looks'][0]} seeds, "
                  f"{len(b['experiments_adding_seeds'])} experiments)")
            if b["without_a_time"]:
                print(f"  no run time recorded for: {', '.join(b['without_a_time'])}")
    except (rconfig.ConfigError, V.MissingRunError) as why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    c = max(args.cores, 1)
    print(f"all: first look {dur(total_first)} of work (~{dur(total_first / c)} on {c} cores); at most "
          f"{dur(total_max)} (~{dur(total_max / c)} on {c} cores) if every undecided claim goes to the last look")
    return 0


if __name__ == "__main__":
    sys.exit(main())
