"""The cost of one SAE-paper experiment at a scale (repro/cost_plan.py): training and evaluation steps from abstract
shapes, through the objectives and task builders the runs use (toy_runs.py, lm_runs.py, lm.py, superposition.py).

    python -m repro.cost_plan papers/sae --scale full

None of the four papers states a parameter count for these set-ups (Sharkey et al.'s dictionaries, Elhage et al.'s
toy models, Gao et al.'s and Rajamanoharan et al.'s SAEs are sized by latents, and our language model is our own).
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from papers.sae import lm as LM
from papers.sae import lm_runs, superposition, toy_runs
from repro import config as rconfig
from repro import text
from repro.precision import fp32_params
from repro.cost_plan import CostSpec, Step, count, objective_step, task_steps

PAPER_DIR = Path(__file__).parent
EVAL_CHUNK = 4096      # toy_runs.encode_decode's chunk: the evaluation step


@functools.lru_cache(maxsize=2)
def corpus(name: str) -> text.CharCorpus:
    """The character corpus (1.1 MB): its length and vocabulary fix the data's shapes; the runs close over it."""
    return text.load_chars(name)


def sae_spec(cfg: dict, d: int, batch_fn, data, n_eval: int, note: str) -> CostSpec:
    """An SAE fit (toy_runs.fit_sae: every step one repro/fit.py step) and its evaluation, ``n_eval`` inputs encoded
    and decoded in chunks of EVAL_CHUNK."""
    mc, tc = cfg["model"], cfg["train"]
    model = nnx.eval_shape(lambda: toy_runs.make_sae(mc, d, 0))
    graphdef, params = nnx.split(model, nnx.Param)
    objective, extra = toy_runs.sae_objective(mc, tc, graphdef, batch_fn, fp32_params(model))
    state = jax.eval_shape(lambda p: objective.init(p, extra), params)
    chunk = min(EVAL_CHUNK, n_eval)
    evaluate = Step(lambda p, x: nnx.merge(graphdef, p)(x), (params, jax.ShapeDtypeStruct((chunk, d), "float32")))
    return CostSpec(train=objective_step(objective, state, data), evaluate=evaluate, steps=tc["steps"],
                    evals=math.ceil(n_eval / chunk), n_params=count(params), note=note)


def spec(cfg: dict) -> CostSpec:
    kind, tc = cfg["task"]["kind"], cfg["train"]
    if kind == "matched":
        return CostSpec(not_costed=f"no training: reads the finished runs of {cfg['task']['target']} and its sweep")
    if kind == "sharkey":
        dc = cfg["data"]
        f, dim = dc["features"], dc["dim"]
        data = (jax.ShapeDtypeStruct((f, dim), "float32"), jax.ShapeDtypeStruct((f,), "float32"),
                jax.ShapeDtypeStruct((f, f), "float32") if dc["correlated"] else None)
        return sae_spec(cfg, dim, toy_runs.sharkey_batches(tc["batch_size"]), data, dc["eval_size"],
                        "not in the estimate: MMCS and the Hungarian matching on the CPU after training")
    if kind == "superposition":
        sc = cfg["toy"]
        n, m = sc["features"], sc["hidden"]
        probs = np.asarray(sc["p_active"], np.float64) if sc["p_active"] else np.logspace(
            0, -sc["p_decades"], sc["p_points"])
        graphdef, objective = superposition.instances_objective(n, m, probs, sc["importance_decay"] ** np.arange(n),
                                                                batch=tc["batch_size"], lr=tc["lr"])
        params = jax.eval_shape(lambda: superposition.init_instances(jax.random.key(0), n, m, len(probs)))
        state = jax.eval_shape(objective.init, params)
        return CostSpec(train=objective_step(objective, state, None), steps=tc["steps"], n_params=count(params),
                        note=f"{len(probs)} toy models ({m}x{n}) trained together; evaluated on the CPU (numpy)")
    if kind == "lm":
        chars = corpus(cfg["data"]["registry"])
        model = nnx.eval_shape(lambda: LM.build_model(cfg, chars.vocab_size, 0))
        train, evaluate, n = task_steps(lambda mdl: LM.build_task(cfg, 0, chars, model=mdl), model,
            precision=cfg["train"].get("precision", "fp32"))
        every = tc.get("eval_every") or tc["steps"]
        return CostSpec(train=train, evaluate=evaluate, steps=tc["steps"],
                        evals=tc["steps"] // every + (tc["steps"] % every != 0), n_params=n)
    if kind == "lm_sae":
        # the activations come from the language model's run (its own experiment's config at this scale)
        pcfg = rconfig.load_paper_config(PAPER_DIR / "config.yaml")
        lm_cfg = rconfig.resolve(pcfg, cfg["sae"]["lm_experiment"], cfg["run"]["scale"])
        d, ctx = lm_cfg["lm"]["d_model"], lm_cfg["lm"]["context"]
        acts = jax.ShapeDtypeStruct((cfg["sae"]["train_windows"] * ctx, d), "float32")
        windows = min(lm_cfg["eval"]["windows"], (len(corpus(lm_cfg["data"]["registry"]).val) - 1) // ctx)
        return sae_spec(cfg, d, lm_runs.activation_batches(tc["batch_size"]), acts, windows * ctx,
                        "not in the estimate: the language model's passes that read the activations and the loss "
                        "recovered (a few forward passes)")
    raise ValueError(f"no cost for task.kind {kind!r}")

