"""Configuration: a paper's ``config.yaml`` (base settings, experiments, scales) + command-line overrides.

Resolution order (later wins): ``base`` <- ``experiments[experiment]`` <- ``scales[scale].overrides`` <-
``scales[scale].experiments[experiment]`` (one experiment's settings at that scale) <- ``--set``.
An experiment says what is run, a scale how big: a scale's budget (e.g. the smoke scale's few steps) applies to every
experiment, including one that sets its own value for the paper's protocol.
Every override must name a key that exists in ``base`` and keep its type; anything else fails with a message that
names the key and lists the valid ones.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

import yaml

SCALES = ("smoke", "cpu", "full")
# a scale's keys: its seed design, the settings it overrides (for all experiments, and per experiment), and the
# experiments it does not train, each with the reason (their claims say `not run` with it: repro/availability.py)
SCALE_KEYS = ("seeds", "overrides", "experiments", "skip")


class ConfigError(ValueError):
    """A configuration problem, with a message that names the thing and the fix."""


def safe_load(text: str):
    """yaml.safe_load through libyaml's parser when PyYAML has it (the same constructor and resolver, so the same
    objects; the pure-Python parser made each `snakemake` command spend seconds reading the papers' YAML)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_yaml(path: Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    try:
        data = safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def load_paper_config(path: Path) -> dict:
    cfg = load_yaml(path)
    for key in ("paper", "base", "experiments", "scales"):
        if key not in cfg:
            raise ConfigError(f"{path}: missing top-level key {key!r}")
    for name, scale in cfg["scales"].items():
        if name not in SCALES:
            raise ConfigError(f"{path}: scale {name!r} is not one of {', '.join(SCALES)}")
        scale = scale or {}
        unknown = set(scale) - set(SCALE_KEYS)
        if unknown:
            raise ConfigError(f"{path}: scales.{name} has unknown key {sorted(unknown)[0]!r}; valid: "
                              f"{', '.join(SCALE_KEYS)}")
        _check_seeds(path, name, scale.get("seeds"))
        for key in ("experiments", "skip"):
            for exp in (scale.get(key) or {}):
                if exp not in cfg["experiments"]:
                    raise ConfigError(f"{path}: scales.{name}.{key} names unknown experiment {exp!r}; valid: "
                                      f"{', '.join(cfg['experiments'])}")
        for exp, why in (scale.get("skip") or {}).items():
            if not isinstance(why, str) or not why.strip():
                raise ConfigError(f"{path}: scales.{name}.skip.{exp} must say why it is not trained at this scale")
    cfg["_path"] = str(path)
    return cfg


def _check_seeds(path, name, seeds) -> None:
    """A list of seeds (a fixed design), or ``{min, max}`` with optional ``looks`` (adaptive:
    analysis/sequential.py)."""
    where = f"{path}: scales.{name}.seeds"
    if isinstance(seeds, list):
        if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise ConfigError(f"{where} must be a non-empty list of integers, or {{min: 3, max: 10}}")
        return
    if not isinstance(seeds, dict) or set(seeds) - {"min", "max", "looks"} or not {"min", "max"} <= set(seeds):
        raise ConfigError(f"{where} must be a list of integers, or {{min: N, max: M}} (optional looks: [N, ..., M])")
    lo, hi = seeds["min"], seeds["max"]
    if not (isinstance(lo, int) and isinstance(hi, int) and 2 <= lo <= hi):
        raise ConfigError(f"{where}: min and max must be integers with 2 <= min <= max")
    looks = seeds.get("looks")
    if looks is not None and (
        not isinstance(looks, list)
        or not looks
        or looks[0] != lo
        or looks[-1] != hi
        or any(b <= a for a, b in zip(looks, looks[1:]))
    ):
        raise ConfigError(f"{where}.looks must rise strictly from min ({lo}) to max ({hi})")


def _merge(base: dict, update: dict, where: str) -> dict:
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        if key not in out:
            raise ConfigError(f"unknown config key {where}{key!r}; valid keys here: {', '.join(sorted(out))}")
        if isinstance(out[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(
                    f"config key {where}{key} is a section; give one of its keys: {', '.join(sorted(out[key]))}"
                )
            out[key] = _merge(out[key], value, f"{where}{key}.")
        else:
            out[key] = _coerce(out[key], value, f"{where}{key}")
    return out


def _coerce(default, value, name):
    if isinstance(default, bool) or default is None:
        ok = default is None or isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, str) and isinstance(value, int) and not isinstance(value, bool):
        ok, value = True, str(value)  # e.g. --set train.devices=4 for a key that also takes "all"
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(f"config key {name} expects {type(default).__name__}, got {value!r}")
    return value


_SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def parse_overrides(items: list[str]) -> dict:
    """``["train.steps=100", "model.d_model=32"]`` -> nested dict (values parsed as YAML scalars)."""
    out: dict = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value (e.g. train.steps=100)")
        key, raw = item.split("=", 1)
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        value = safe_load(raw)
        if isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 2e-4 (no dot) as a string
        node[parts[-1]] = value
    return out


def resolve(paper_cfg: dict, experiment: str, scale: str, overrides: list[str] | None = None) -> dict:
    path = paper_cfg.get("_path", "config.yaml")
    if experiment not in paper_cfg["experiments"]:
        raise ConfigError(f"unknown experiment {experiment!r} in {path}; valid: {', '.join(paper_cfg['experiments'])}")
    if scale not in paper_cfg["scales"]:
        raise ConfigError(f"unknown scale {scale!r} in {path}; valid: {', '.join(paper_cfg['scales'])}")
    cfg = _merge(paper_cfg["base"], paper_cfg["experiments"][experiment], "")
    cfg = _merge(cfg, paper_cfg["scales"][scale].get("overrides"), "")
    # a scale's settings for one experiment (e.g. a task whose reduced scale differs from the others')
    cfg = _merge(cfg, (paper_cfg["scales"][scale].get("experiments") or {}).get(experiment), "")
    cfg = _merge(cfg, parse_overrides(overrides), "")
    validate_train(cfg.get("train", {}), path)
    validate_schema(cfg, path, experiment, scale)
    cfg["run"] = {"paper": paper_cfg["paper"], "experiment": experiment, "scale": scale}
    return cfg


def validate_train(train: dict, where: str) -> None:
    steps, log = train.get("steps"), train.get("log_every")
    if not steps or not log or steps <= 0 or log <= 0:
        raise ConfigError(f"{where}: train.steps and train.log_every must be positive")
    for key in ("steps", "eval_every", "checkpoint_every"):
        if train.get(key) and train[key] % log:
            raise ConfigError(
                f"{where}: train.{key}={train[key]} must be a multiple of train.log_every={log} "
                "(steps run in jitted chunks of log_every)"
            )


def paper_schema(config_path: str | Path):
    """The ``Config`` model of the paper's ``schema.py`` beside its config.yaml (repro/schema.py), or None."""
    import importlib.util
    import sys
    path = Path(config_path).parent / "schema.py"
    if not path.exists():
        return None
    name = "_paper_schema_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    if name not in sys.modules:     # registered before it runs, so pydantic resolves the module's annotations
        spec = importlib.util.spec_from_file_location(name, path)
        sys.modules[name] = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(sys.modules[name])
        except BaseException:
            del sys.modules[name]
            raise
    module = sys.modules[name]
    if not hasattr(module, "Config"):
        raise ConfigError(f"{path}: defines no Config model (see CONTRIBUTING.md, 'schema.py')")
    return module.Config


def validate_schema(cfg: dict, path, experiment: str, scale: str) -> None:
    from repro import schema
    model = paper_schema(path)
    if model is None:
        return
    problems = schema.errors(model, cfg)
    if problems:
        raise ConfigError(f"{path}: experiment {experiment!r} at scale {scale!r} does not fit "
                          f"{Path(path).parent / 'schema.py'}: " + "; ".join(problems))


# Where a run executes, not what it computes: a run may resume on another number of devices (repro/parallel.py;
# the results agree up to floating-point reassociation).
PLACEMENT = (("train", "devices"),)
# a setting at the value every run had before the key existed leaves the hash as it was (runs made then stay valid):
# train.precision fp32 is the same program as before mixed precision existed (repro/precision.py); model.xpos_scale_base
# 512 is the transformer's default, read only by positions=xpos (papers/mamba, 2026-12-04); model.position_scale 1.0
# is the rotary positions as they were before the key, model.mlp true the attention blocks (papers/mamba, 2026-12-05)
UNHASHED_DEFAULTS = ((("train", "precision"), "fp32"), (("model", "xpos_scale_base"), 512.0),
                     (("model", "position_scale"), 1.0), (("model", "mlp"), True))


def config_hash(cfg: dict) -> str:
    """sha256 of the canonical JSON of the resolved config, without the seed (the seed is its own tag), without
    placement settings (PLACEMENT) and without settings at their UNHASHED_DEFAULTS."""
    science = json.loads(json.dumps(cfg, default=str))
    for section, key in PLACEMENT:
        (science.get(section) or {}).pop(key, None)
    for (section, key), value in UNHASHED_DEFAULTS:
        if (science.get(section) or {}).get(key) == value:
            science[section].pop(key)
    return hashlib.sha256(json.dumps(science, sort_keys=True, default=str).encode()).hexdigest()[:16]


def seed_design(paper_cfg: dict, scale: str) -> dict:
    """``{"seeds": every seed the scale may run, "looks": [numbers of seeds judged at], "adaptive": bool}``.
    A list is one look at all its seeds; ``{min, max}`` runs seeds 0..max-1, the first ``min`` always and the rest
    only while a claim is undecided (analysis/sequential.py)."""
    if scale not in paper_cfg["scales"]:
        raise ConfigError(f"unknown scale {scale!r}; valid: {', '.join(paper_cfg['scales'])}")
    cfg = paper_cfg["scales"][scale]["seeds"]
    if isinstance(cfg, list):
        return {"seeds": list(cfg), "looks": [len(cfg)], "adaptive": False}
    looks = list(cfg.get("looks") or [])
    if not looks:
        looks = [cfg["min"]]
        while looks[-1] < cfg["max"]:
            looks.append(min(2 * looks[-1], cfg["max"]))
    return {"seeds": list(range(cfg["max"])), "looks": looks, "adaptive": len(looks) > 1}


def seeds(paper_cfg: dict, scale: str) -> list[int]:
    """The seeds every run of the scale trains (an adaptive design's first look)."""
    d = seed_design(paper_cfg, scale)
    return d["seeds"][: d["looks"][0]]


def main(argv=None) -> int:
    """``python -m repro.config show papers/<p> <experiment> --scale S [--set k=v ...]``: the resolved config."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m repro.config", description="Print an experiment's resolved config")
    sub = p.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="the config one run of an experiment trains with, and its hash")
    show.add_argument("paper_dir", type=Path)
    show.add_argument("experiment")
    show.add_argument("--scale", default="cpu")
    show.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = p.parse_args(argv)
    try:
        cfg = resolve(load_paper_config(args.paper_dir / "config.yaml"), args.experiment, args.scale, args.overrides)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False).rstrip())
    print(
        f"# config hash {config_hash(cfg)} (recorded in each run's metrics.json; seeds: "
        f"{', '.join(map(str, seeds(load_paper_config(args.paper_dir / 'config.yaml'), args.scale)))})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
