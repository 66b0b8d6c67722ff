"""Which data an experiment can use now: a registry data set whose files are fetched, or fetchable with recorded
checksums (repro/data.py), or a TensorFlow Datasets set that is prepared (repro/tfds_data.py). The workflow skips an
experiment whose data is not available; its claims say ``not run`` with the reason and the command that fixes it.
(Its own module so that data.py and tfds_data.py need not import each other.)"""
from __future__ import annotations

from repro import config as rconfig
from repro import data, tfds_data


def missing_reason(name: str) -> str | None:
    """None when ``name`` can be used; otherwise why not, with the command that makes it available."""
    return tfds_data.missing_reason(name) if data.via_tfds(name) else data.missing_reason(name)


def blocked_experiments(paper_cfg: dict, scale: str) -> dict:
    """{experiment: why it cannot run} for experiments the scale skips (``scales.<s>.skip``, with the reason), whose
    ``data.registry`` data set can be neither used nor fetched with a recorded checksum, or whose ``data.tfds`` data
    set is not prepared (the workflow skips them; their claims say ``not run`` with the reason)."""
    skip = (paper_cfg["scales"].get(scale) or {}).get("skip") or {}
    out = {e: f"not trained at the {scale} scale: {why}" for e, why in skip.items()}
    for e in paper_cfg["experiments"]:
        if e in out:
            continue
        spec = rconfig.resolve(paper_cfg, e, scale).get("data") or {}
        for name in filter(None, (spec.get("registry"), spec.get("tfds"))):
            if data.via_tfds(name) or not (data.data_root() / name / ".fetched").exists():
                reason = missing_reason(name)
                if reason:
                    out[e] = f"needs data: {reason}"
    return out
