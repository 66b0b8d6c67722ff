"""What a scale will cost before any job runs, from the compiled programs themselves:

    python -m repro.cost_plan papers/mamba --scale full [--device h100|a100|cpu] [--utilisation 0.4]
                              [--precision fp32|tf32|bf16] [--experiment E ...] [--set section.key=value ...]

For every experiment of the paper at the scale, the paper's hook (``papers/<p>/cost.py``: ``spec(cfg) ->
CostSpec``) gives one training step and one evaluation step as jittable functions with abstract arguments
(``jax.eval_shape`` for parameters and optimizer state, ``jax.ShapeDtypeStruct`` for batches and data): nothing of
full size is allocated and nothing trains. Each step is lowered and compiled (``jax.jit(f).lower(*args).compile()``)
for this machine's backend and measured:

- FLOPs per step: ``compiled.cost_analysis()["flops"]``. XLA's analysis counts the body of a loop once, whatever its
  trip count, so for every ``scan`` in the step's jaxpr (a sequential selective scan over 4,096 positions, a
  ``lax.map`` over evaluation batches) we add (trip count - 1) x the body's FLOPs, the body analysed by XLA too
  (``jax.jit(body).lower(...).cost_analysis()``), nested loops included. A ``while`` loop of unknown trip count is
  counted once and the note says so.
- peak memory: ``compiled.memory_analysis()``: ``argument_size_in_bytes + output_size_in_bytes +
  temp_size_in_bytes - alias_size_in_bytes`` (the buffers live during the step; generated code and host buffers
  excluded). A row whose peak exceeds the device's memory is marked ``!`` with a note.
- time = FLOPs per run x runs / (the device's peak FLOP/s at the precision x the utilisation), where FLOPs per run =
  train FLOPs x steps + eval FLOPs x evaluations. A FLOP count, not a measurement: a step that is a long sequential
  loop (the note gives its longest loop) or too small to fill the device runs slower than this on a GPU.

Peak FLOP/s (``--device``, ``--precision``): NVIDIA's datasheets, dense (without structured sparsity): H100 SXM5 fp32
66.9 T, TF32 tensor 494.7 T, BF16 989.4 T; A100 SXM4 fp32 19.5 T, TF32 156 T, BF16 312 T; ``cpu`` a nominal 2-core
laptop (2 x 3 GHz x 32 fp32 FLOP/cycle = 192 G). By default each experiment is timed at the peak of its own
``train.precision`` (repro/precision.py; its programs are compiled in it): fp32 rows at the fp32 rate, bf16 rows at
the bf16 rate. A GPU may run float32 matmuls as TF32 (XLA's default precision), so ``--precision tf32`` is the
optimistic bound for fp32 runs' matmuls; the scans and elementwise work stay at the fp32 rate. The utilisation
(default 0.4) is an assumption, printed with the result; models this small rarely reach it.

Experiments that are not gradient training (timing, reading other runs) appear with the reason instead of a cost.
The programs are the single-device ones (``train.devices`` > 1 divides the time ideally) compiled for the backend
here, so a GPU's fusion, memory and any backend-dependent choice (Mamba's ``scan_method: auto``) may differ.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

from repro import config as rconfig
from repro.progress import duration

REPO = Path(__file__).resolve().parents[1]
PRECISIONS = ("fp32", "tf32", "bf16")
LONG_LOOP = 256     # a step with a sequential loop this long gets a note: its time is not FLOP-bound


@dataclasses.dataclass(frozen=True)
class Device:
    name: str
    peak: dict            # precision -> FLOP/s, dense (no structured sparsity)
    memory: float | None  # bytes on one device (None: host memory, not checked)
    source: str


DEVICES = {
    "h100": Device("NVIDIA H100 SXM5 80GB", {"fp32": 66.9e12, "tf32": 494.7e12, "bf16": 989.4e12}, 80 * 2 ** 30,
                   "NVIDIA H100 Tensor Core GPU datasheet, SXM5, dense (tensor-core TF32/BF16 without sparsity)"),
    "a100": Device("NVIDIA A100 SXM4 80GB", {"fp32": 19.5e12, "tf32": 156e12, "bf16": 312e12}, 80 * 2 ** 30,
                   "NVIDIA A100 Tensor Core GPU datasheet, SXM4, dense"),
    "cpu": Device("a 2-core x86-64 CPU at 3 GHz with AVX2 FMA", {"fp32": 192e9, "tf32": 192e9, "bf16": 192e9}, None,
                  "nominal: 2 cores x 3.0 GHz x 32 fp32 FLOP/cycle (two 8-wide FMA units); no faster low precision"),
}


@dataclasses.dataclass
class Step:
    """A jittable function and its abstract arguments (pytrees of jax.ShapeDtypeStruct, or static Python values
    closed over by ``fn``)."""
    fn: Callable
    args: tuple


@dataclasses.dataclass
class CostSpec:
    """What a paper's ``cost.spec(cfg)`` returns for one experiment at one scale."""
    train: Step | None = None
    evaluate: Step | None = None
    steps: int = 0                 # training steps per run
    evals: int = 0                 # calls of the evaluation step per run
    seeds_per_run: int = 1         # seeds one run's program trains (GIN: a round's 10 folds): runs = seeds / this
    n_params: int = 0              # trained parameters of one run's model
    paper_params: int | None = None    # the paper's stated count, where it states one (with the source in note)
    not_costed: str = ""           # why there is no cost (not gradient training, or no program of its own)
    note: str = ""
    # other training programs of the same run (GIN: the other grid points' shapes): (label, step, steps per run),
    # in the time by the FLOPs of their lowered programs (not compiled: the compiled ``train`` bounds the memory)
    more: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Measured:
    flops: float
    memory: int                    # argument + output + temp - alias bytes
    longest_loop: int              # the largest scan trip count in the step (1: none)
    unknown_loops: int             # while loops of unknown trip count (counted once)
    compile_s: float


@dataclasses.dataclass
class Row:
    experiment: str
    spec: CostSpec
    runs: int
    train: Measured | None = None
    evaluate: Measured | None = None
    more: list = dataclasses.field(default_factory=list)     # (label, Measured, steps per run)
    error: str = ""                # the step does not build or compile at this scale: why
    precision: str = "fp32"        # the experiment's train.precision (its programs are compiled in it)

    @property
    def flops(self) -> float:
        """FLOPs of every run of the experiment."""
        if self.train is None:
            return 0.0
        per_run = self.train.flops * self.spec.steps + (self.evaluate.flops * self.spec.evals if self.evaluate else 0)
        per_run += sum(m.flops * steps for _, m, steps in self.more)
        return per_run * self.runs

    @property
    def measured(self) -> list[Measured]:
        return [m for m in (self.train, self.evaluate, *(m for _, m, _ in self.more)) if m is not None]

    @property
    def memory(self) -> int:
        return max(m.memory for m in self.measured) if self.train else 0


class CostPlanError(ValueError):
    """A bad paper, scale, device or option: one line names it and the valid choices."""


# --- building abstract arguments -------------------------------------------------------------------------------
def abstract(tree):
    """Every array of ``tree`` as a jax.ShapeDtypeStruct (shapes only)."""
    import jax
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)


def key_struct(*shape: int):
    """An abstract typed PRNG key (or keys) of ``shape``."""
    import jax
    return jax.ShapeDtypeStruct(shape, jax.eval_shape(lambda: jax.random.key(0)).dtype)


def count(tree) -> int:
    import jax
    return int(sum(math.prod(x.shape) for x in jax.tree.leaves(tree)))


def objective_step(objective, state, data, *, batched: bool = False, data_axes=None, folds: int = 0) -> Step:
    """repro/fit.py's training step of ``objective`` (its loop runs this ``train.log_every`` times per compiled
    chunk), at the abstract ``state`` (a FitState from jax.eval_shape) and ``data``; ``batched``: seeds (folds)
    side by side, as fit.chunk_fn vmaps them."""
    import jax
    from repro import fit
    step = fit.seeds_step_fn(objective, batched=batched, data_axes=data_axes)
    return Step(step, (state, jax.ShapeDtypeStruct((), "int32"), key_struct(*((folds,) if batched else ())), data))


def task_steps(make_task: Callable, model, data=(), precision: str = "fp32") -> tuple[Step, Step, int]:
    """The training and evaluation steps of a repro.train.Task, as repro/train.py's ``fit_task`` runs them, for a
    model given abstractly (``nnx.eval_shape`` of the paper's model constructor). ``make_task(model, *data)`` is the
    paper's own task builder: it is called inside each traced step with the model rebuilt from the traced
    parameters, and ``data`` (arrays the task reads, abstract) as traced arguments; ``precision``: train.precision.
    Returns (train step, evaluation step, number of parameters)."""
    import jax
    from flax import nnx
    from repro import fit, train

    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def live(p, r, d):
        m = nnx.merge(graphdef, p, r)
        return m, make_task(m, *d)

    opt_state = jax.eval_shape(lambda p, r, d: live(p, r, d)[1].optimizer.init(p), params, rest, data)

    def train_step(state, rest_, t, data_key, data_):
        obj, _, _, _ = train.objective(live(state.params, rest_, data_)[1], precision)
        return fit.step_fn(obj)(state, t, data_key, None)

    def eval_step(p, rest_, data_):
        m, task = live(p, rest_, data_)
        return task.evaluate(m)

    state = fit.FitState(params, opt_state, ())
    train_ = Step(train_step, (state, rest, jax.ShapeDtypeStruct((), "int32"), key_struct(), data))
    return train_, Step(eval_step, (params, rest, data)), count(params)


# --- measuring ------------------------------------------------------------------------------------------------
def _loop_correction(jaxpr, cache: dict) -> tuple[float, int, int]:
    """(FLOPs XLA's loop-once analysis leaves out of ``jaxpr``, the longest scan, while loops of unknown trip count).
    For a scan of n iterations whose body costs b (nested loops corrected: c), XLA counts b once: add
    (n - 1) b + n c."""
    import jax
    from jax.extend import core as jcore
    extra, longest, unknown = 0.0, 1, 0
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "scan":
            body, n = eqn.params["jaxpr"], int(eqn.params["length"])
            if id(body) not in cache:
                args = [jax.ShapeDtypeStruct(v.aval.shape, v.aval.dtype) for v in body.jaxpr.invars]
                analysis = jax.jit(jcore.jaxpr_as_fun(body)).lower(*args).cost_analysis() or {}
                cache[id(body)] = (body, float(analysis.get("flops", 0.0)), _loop_correction(body.jaxpr, cache))
            _, b, (c, inner, unk) = cache[id(body)]
            extra += (n - 1) * b + n * c
            longest, unknown = max(longest, n * inner if inner > 1 else n), unknown + unk
            continue
        if eqn.primitive.name == "while":
            unknown += 1
        subs = list(jcore.jaxprs_in_params(eqn.params))
        parts = [_loop_correction(getattr(s, "jaxpr", s), cache) for s in subs]
        if eqn.primitive.name == "cond" and parts:     # one branch runs: the costliest
            parts = [max(parts)]
        for c, inner, unk in parts:
            extra, longest, unknown = extra + c, max(longest, inner), unknown + unk
    return extra, longest, unknown


def measure(step: Step, compile: bool = True) -> Measured:
    """Lower and compile ``step`` ahead of time from its abstract arguments; FLOPs (loops counted by trip count)
    and peak memory. ``compile=False``: FLOPs of the lowered program only (XLA's analysis before optimisation, no
    memory: 0), for a run's further programs whose memory the compiled one bounds."""
    import jax
    t0 = time.perf_counter()
    traced = jax.jit(step.fn).trace(*step.args)
    lowered = traced.lower()
    compiled = lowered.compile() if compile else lowered
    analysis = compiled.cost_analysis() or {}
    if isinstance(analysis, (list, tuple)):       # older JAX: one dict per device
        analysis = analysis[0] if analysis else {}
    memory = 0
    if compile:
        mem = compiled.memory_analysis()
        memory = (mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes
                  - mem.alias_size_in_bytes)
    extra, longest, unknown = _loop_correction(traced.jaxpr.jaxpr, {})
    return Measured(float(analysis.get("flops", 0.0)) + extra, int(memory), longest, unknown,
                    time.perf_counter() - t0)


# --- the plan -------------------------------------------------------------------------------------------------
def paper_dir_of(path) -> Path:
    p = Path(path)
    if not (p / "config.yaml").exists():
        known = sorted(d.name for d in (REPO / "papers").iterdir() if (d / "cost.py").exists())
        raise CostPlanError(f"{str(path).rstrip('/')}: not a paper (no config.yaml there); papers: "
                            f"{', '.join('papers/' + k for k in known)}")
    if not (p / "cost.py").exists():
        raise CostPlanError(f"{p}: no cost.py (a paper's hook: def spec(cfg) -> repro.cost_plan.CostSpec)")
    return p


def hook(paper_dir: Path):
    try:
        rel = Path(paper_dir).resolve().relative_to(REPO)
    except ValueError as e:
        raise CostPlanError(f"{paper_dir}: not a paper of this repository ({REPO})") from e
    return importlib.import_module(".".join(rel.parts) + ".cost")


def plan(paper_dir, scale: str, experiments: list[str] | None = None, overrides: list[str] | None = None,
         progress: Callable[[str], Any] | None = None) -> list[Row]:
    """One Row per experiment of the paper at the scale (a skipped or uncosted one with its reason)."""
    paper_dir = paper_dir_of(paper_dir)
    if scale not in rconfig.SCALES:
        raise CostPlanError(f"unknown scale {scale!r}; valid: {', '.join(rconfig.SCALES)}")
    pcfg = rconfig.load_paper_config(paper_dir / "config.yaml")
    if scale not in pcfg["scales"]:
        raise CostPlanError(f"{paper_dir}: config.yaml has no scale {scale!r}; its scales: "
                            f"{', '.join(pcfg['scales'])}")
    names = list(pcfg["experiments"])
    unknown = [e for e in experiments or [] if e not in names]
    if unknown:
        raise CostPlanError(f"{paper_dir}: no experiment {unknown[0]!r}; valid: {', '.join(names)}")
    skip = pcfg["scales"][scale].get("skip") or {}
    chosen = list(experiments or names)
    if not [e for e in chosen if e not in skip]:
        raise CostPlanError(f"{paper_dir}: scale {scale!r} trains no experiment (all skipped: "
                            f"{', '.join(chosen)})")
    module, seeds = hook(paper_dir), rconfig.seed_design(pcfg, scale)
    first_look = seeds["seeds"][: seeds["looks"][0]]
    rows = []
    for e in chosen:
        if e in skip:
            rows.append(Row(e, CostSpec(not_costed=f"not trained at the {scale} scale: {skip[e]}"), 0))
            continue
        cfg = rconfig.resolve(pcfg, e, scale, overrides)
        if progress:
            progress(e)
        try:
            spec = module.spec(cfg)
        except Exception as err:     # a model that does not build at this scale is a finding, not a crash
            rows.append(Row(e, CostSpec(), 0, error=_one_line(err)))
            continue
        runs = math.ceil(len(first_look) / spec.seeds_per_run)
        if seeds["adaptive"]:
            spec.note = "; ".join(filter(None, [spec.note, f"adaptive seeds: the first look's {len(first_look)}, "
                                                f"up to {len(seeds['seeds'])} while a claim is undecided"]))
        row = Row(e, spec, runs, precision=cfg.get("train", {}).get("precision", "fp32"))
        steps = [("train", spec.train, None), ("evaluate", spec.evaluate, None), *spec.more]
        for what, step, n_steps in steps:
            if step is None:
                continue
            try:
                measured = measure(step, compile=n_steps is None)
            except Exception as err:
                row.error = "; ".join(filter(None, [row.error, f"its {what} step: {_one_line(err)}"]))
                continue
            if n_steps is None:
                setattr(row, what, measured)
            else:
                row.more.append((what, measured, n_steps))
        rows.append(row)
    return rows


def _one_line(err: Exception) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:300]}"


def seconds(flops: float, device: Device, precision: str, utilisation: float) -> float:
    return flops / (device.peak[precision] * utilisation)


def _si(x: float, unit: str = "") -> str:
    for factor, prefix in ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= factor:
            return f"{x / factor:.3g}{' ' if unit else ''}{prefix}{unit}"
    return f"{x:.3g}{' ' if unit else ''}{unit}"


def _bytes(n: int) -> str:
    for factor, unit in ((2 ** 30, "GiB"), (2 ** 20, "MiB"), (2 ** 10, "KiB")):
        if n >= factor:
            return f"{n / factor:.3g} {unit}"
    return f"{n} B"


def _eval_cell(r: Row) -> str:
    if r.evaluate is not None:
        return _si(r.evaluate.flops)
    return "FAILS" if r.spec.evaluate is not None else "-"


def table(paper: str, scale: str, rows: list[Row], device: Device, precision: str | None, utilisation: float) -> str:
    """``precision``: the peak every row is timed at; None: each row at its own train.precision's peak."""
    if precision is None:
        rates = ", ".join(f"{p} peak {_si(device.peak[p], 'FLOP/s')}" for p in sorted({r.precision for r in rows}))
        out = [f"{paper} at scale {scale} on {device.name}: each experiment at its train.precision's peak ({rates}) "
               f"x utilisation {utilisation:g} (assumed)", f"(peak: {device.source})"]
    else:
        rate = device.peak[precision] * utilisation
        out = [f"{paper} at scale {scale} on {device.name}: {precision} peak {_si(device.peak[precision], 'FLOP/s')} "
               f"x utilisation {utilisation:g} (assumed) = {_si(rate, 'FLOP/s')}", f"(peak: {device.source})"]
    head = (f"{'experiment':<22} {'params':>7} {'paper':>6} {'train/step':>10} {'steps':>7} {'eval':>8} "
            f"{'evals':>5} {'runs':>4} {'prec':>4} {'peak mem':>9} {'time':>14}")
    out += [head, "-" * len(head)]
    notes, total_flops, total_s = [], 0.0, 0.0
    for r in rows:
        s = r.spec
        if r.error:
            notes.append((r.experiment, f"does not build at this scale: {r.error}"))
        if r.error and r.train is None:
            out.append(f"{r.experiment:<22} {'-':>7} {'-':>6}  DOES NOT BUILD (see notes)")
            continue
        if r.train is None:
            out.append(f"{r.experiment:<22} {'-':>7} {'-':>6}  not costed: {s.not_costed}")
            continue
        t = seconds(r.flops, device, precision or r.precision, utilisation)
        total_flops, total_s = total_flops + r.flops, total_s + t
        mem = _bytes(r.memory) + ("!" if device.memory and r.memory > device.memory else "")
        out.append(f"{r.experiment:<22} {_si(s.n_params):>7} {_si(s.paper_params) if s.paper_params else '-':>6} "
                   f"{_si(r.train.flops):>10} {s.steps:>7} {_eval_cell(r):>8} "
                   f"{s.evals:>5} {r.runs:>4} {r.precision:>4} {mem:>9} {duration(t):>14}")
        unknown = sum(m.unknown_loops for m in r.measured)
        extra = [s.note] if s.note else []
        loops = [f"{m.longest_loop} per {what}" for what, m in (("training step", r.train), ("evaluation", r.evaluate))
                 if m and m.longest_loop >= LONG_LOOP]
        if loops:
            extra.append(f"sequential loop iterations: {', '.join(loops)} (latency-bound on a GPU: slower than "
                         "the FLOP estimate)")
        if unknown:
            extra.append(f"{unknown} while loop(s) of unknown trip count counted once")
        if device.memory and r.memory > device.memory:
            extra.append(f"peak memory {_bytes(r.memory)} exceeds the device's {_bytes(int(device.memory))}")
        notes += [(r.experiment, n) for n in extra]
    out.append("-" * len(head))
    failed = [r.experiment for r in rows if r.error]
    if failed:
        out.append(f"{len(failed)} experiment(s) do not build at this scale (the total counts what compiled): "
                   f"{', '.join(failed)}")
    out.append(f"{'total':<22} {_si(total_flops, 'FLOP'):>52} {duration(total_s):>30}")
    out.append("FLOPs and memory of the single-device programs compiled for this machine's backend (peak memory = "
               "XLA's argument + output + temp - alias bytes); time = (train FLOPs x steps + eval FLOPs x evals) x "
               "runs / rate.")
    if notes:           # one line per distinct note, with every experiment it concerns
        grouped: dict[str, list[str]] = {}
        for e, n in notes:
            grouped.setdefault(n, []).append(e)
        out += ["notes:", *(f"  {', '.join(es)}: {n}" for n, es in grouped.items())]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m repro.cost_plan", description="FLOPs, memory and estimated time of "
                                "every experiment of a paper at a scale, from its compiled steps (nothing trains)")
    p.add_argument("papers", nargs="+", metavar="papers/<p>")
    p.add_argument("--scale", default="full")
    p.add_argument("--device", default="h100", help=f"one of {', '.join(DEVICES)} (default h100)")
    p.add_argument("--precision", default=None, help="the peak to time every experiment at: fp32, tf32 or bf16 "
                   "(default: each experiment's train.precision, whose programs are the ones compiled)")
    p.add_argument("--utilisation", default="0.4", help="fraction of the peak assumed reached (default 0.4)")
    p.add_argument("--experiment", action="append", default=None, help="only this experiment (repeatable)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = p.parse_args(argv)
    failed = False
    try:
        device, precision, utilisation = options(args.device, args.precision, args.utilisation)
        for paper in args.papers:
            def say(e, paper=paper):
                print(f"compiling {Path(paper).name} {e} ...", file=sys.stderr, flush=True)
            rows = plan(paper, args.scale, args.experiment, args.overrides, progress=say)
            print(table(Path(paper).name, args.scale, rows, device, precision, utilisation))
            failed = failed or any(r.error for r in rows)
    except (CostPlanError, rconfig.ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 1 if failed else 0


def options(device: str, precision: str | None, utilisation) -> tuple[Device, str | None, float]:
    if device not in DEVICES:
        raise CostPlanError(f"unknown device {device!r}; valid: {', '.join(DEVICES)}")
    if precision is not None and precision not in PRECISIONS:
        raise CostPlanError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    try:
        u = float(utilisation)
    except ValueError:
        u = float("nan")
    if not 0 < u <= 1:
        raise CostPlanError(f"--utilisation {utilisation}: must be a number in (0, 1]")
    return DEVICES[device], precision, u


if __name__ == "__main__":
    raise SystemExit(main())
