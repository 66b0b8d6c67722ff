"""When was a claim's rule last changed, and was that before its runs? (issue 18: rules fixed before the runs.)

A rule's digest covers what judges: the metric, the experiments and the rule's kind and numbers (not its ``basis``
text, which only documents them). The commit that last changed it is the oldest commit of the newest unbroken run of
commits of claims.yaml in which the claim's digest equals today's; ``uncommitted`` when the working tree differs from
HEAD. A rule is flagged ``changed after its runs`` when that commit is not an ancestor of every commit its runs were
trained at.
"""
from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from pathlib import Path

import yaml

from repro.config import safe_load

UNCOMMITTED, UNKNOWN = "uncommitted", "unknown"


def digest(claim: dict) -> str:
    rule = {k: v for k, v in (claim.get("rule") or {}).items() if k != "basis"}
    judged = {"metric": claim.get("metric"), "experiments": claim.get("experiments"), "rule": rule}
    return hashlib.sha256(json.dumps(judged, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _git(root: Path, *args) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


@functools.lru_cache(maxsize=16)
def _history(root: str, rel: str) -> tuple:
    """((commit, {claim id: digest}), ...) newest first, for every commit that touched the file."""
    log = _git(Path(root), "log", "--format=%H", "--", rel)
    out = []
    for c in (log or "").split():
        text = _git(Path(root), "show", f"{c}:{rel}")
        try:
            data = safe_load(text or "") or {}
            claims = {x["id"]: digest(x) for x in data.get("claims") or [] if isinstance(x, dict) and "id" in x}
        except (yaml.YAMLError, TypeError, KeyError, AttributeError):
            claims = {}
        out.append((c, claims))
    return tuple(out)


def last_change(claims_path: Path, claim: dict) -> str:
    """The commit that last changed this claim's rule, ``uncommitted``, or ``unknown`` (no git history)."""
    path = Path(claims_path).resolve()
    root = _git(path.parent, "rev-parse", "--show-toplevel")
    if root is None:
        return UNKNOWN
    root = root.strip()
    history = _history(root, str(path.relative_to(root)))
    if not history:
        return UNCOMMITTED
    want, found = digest(claim), None
    if history[0][1].get(claim["id"]) != want:  # the newest version is HEAD's
        return UNCOMMITTED
    for commit, claims in history:
        if claims.get(claim["id"]) != want:
            break
        found = commit
    return found or UNCOMMITTED


def is_ancestor(root: Path, older: str, newer: str) -> bool | None:
    try:
        out = subprocess.run(["git", "merge-base", "--is-ancestor", older, newer], cwd=root, capture_output=True,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {0: True, 1: False}.get(out.returncode)


def status(claims_path: Path, claim: dict, run_commits: list[str]) -> dict:
    """``{"digest", "rule_commit", "run_commits", "after_runs": True | False | None}`` (None: cannot tell)."""
    rule_commit = last_change(claims_path, claim)
    commits = sorted({c for c in run_commits if c})
    after = None
    if rule_commit == UNCOMMITTED and commits:
        after = True
    elif rule_commit != UNKNOWN and commits and UNKNOWN not in commits:
        root = Path(claims_path).resolve().parent
        answers = [is_ancestor(root, rule_commit, c) for c in commits]
        after = None if None in answers else not all(answers)
    return {"digest": digest(claim), "rule_commit": rule_commit, "run_commits": commits, "after_runs": after}
