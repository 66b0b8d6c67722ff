"""Two result sets side by side: what changed between two scales, two commits or two machines.

    python -m analysis.compare REF [--results results]

REF is a results directory (holding <paper>/<scale>/claims.json) or a git revision whose committed
results/<p>/<scale>/claims.json are read with ``git show`` (e.g. ``HEAD``: compare a smoke or re-run in the working
tree with the committed
verdicts). The dashboard shows the same comparison (``python -m analysis.dashboard --compare REF``).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd

from analysis.rule_text import headline as our_number
from repro import runio, tracking


class CompareError(ValueError):
    pass


def load_set(ref: str | Path, scale: str | None = None) -> dict:
    """{paper: claims.json report} from a directory or a git revision: the given scale's verdicts, or per paper the
    most faithful scale present (full, then cpu, then smoke)."""
    path = Path(ref)
    if path.is_dir():
        files = runio.preferred(runio.verdict_files(path), scale)
        if not files:
            raise CompareError(f"{path} holds no <paper>/{scale or '<scale>'}/claims.json")
        return {paper: json.loads(p.read_text()) for paper, p in files.items()}
    git = ["git", "-C", str(tracking.REPO)]
    ls = subprocess.run(
        [*git, "ls-tree", "-r", "--name-only", str(ref), "--", "results"], capture_output=True, text=True
    )
    if ls.returncode != 0:
        raise CompareError(
            f"{ref!r} is neither a results directory nor a git revision of this repository ({ls.stderr.strip()})"
        )
    names = [
        Path(n)
        for n in ls.stdout.split()
        if len(Path(n).parts) == 4 and Path(n).name == "claims.json" and Path(n).parts[2] in runio.SCALES
    ]
    names.sort(key=lambda p: (p.parts[1], runio.SCALES.index(p.parts[2])))
    reports = {}
    for paper, name in runio.preferred(names, scale).items():
        text = subprocess.run(
            [*git, "show", f"{ref}:{name.as_posix()}"], capture_output=True, text=True, check=True
        ).stdout
        reports[paper] = json.loads(text)
    if not reports:
        raise CompareError(f"git revision {ref} has no committed results/<paper>/{scale or '<scale>'}/claims.json")
    return reports


def headline(claim: dict):
    rep = claim.get("reproduced") or {}
    v = our_number(rep)
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def diff(old: dict, new: dict) -> pd.DataFrame:
    """One row per claim in either set: verdict and headline number before and after, and what changed."""
    rows = []
    for paper in sorted(set(old) | set(new)):
        a = {c["id"]: c for c in (old.get(paper) or {}).get("claims", [])}
        b = {c["id"]: c for c in (new.get(paper) or {}).get("claims", [])}
        for cid in list(a) + [c for c in b if c not in a]:
            ca, cb = a.get(cid), b.get(cid)
            va, vb = headline(ca) if ca else None, headline(cb) if cb else None
            if ca is None or cb is None:
                change = "added" if ca is None else "removed"
            elif ca["verdict"] != cb["verdict"]:
                change = "verdict"
            elif va != vb:
                change = "value"
            else:
                change = ""
            rows.append(
                {
                    "paper": paper,
                    "claim": cid,
                    "scale_before": (old.get(paper) or {}).get("scale"),
                    "scale_after": (new.get(paper) or {}).get("scale"),
                    "verdict_before": ca["verdict"] if ca else None,
                    "verdict_after": cb["verdict"] if cb else None,
                    "value_before": va,
                    "value_after": vb,
                    "delta": vb - va if va is not None and vb is not None else None,
                    "change": change,
                }
            )
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("ref", help="results directory or git revision to compare against")
    p.add_argument("--results", type=Path, default=None, help="the newer set (default: results/)")
    p.add_argument("--all", action="store_true", help="list unchanged claims too")
    p.add_argument("--scale", default=None, help="the newer set's scale (default: per paper the most faithful present)")
    p.add_argument("--ref-scale", default=None, help="REF's scale (default: per paper the most faithful present)")
    args = p.parse_args(argv)
    try:
        old, new = load_set(args.ref, args.ref_scale), load_set(args.results or tracking.results_dir(), args.scale)
    except CompareError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    df = diff(old, new)
    shown = df if args.all else df[df["change"] != ""]
    with pd.option_context("display.max_rows", None, "display.width", 200):
        print(shown.to_string(index=False) if len(shown) else "no claim changed")
    print(f"\n{(df['change'] != '').sum()} of {len(df)} claims changed ({(df['change'] == 'verdict').sum()} verdicts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
