"""Induction heads (Mamba Table 2): train at one length, test at many (length extrapolation).

Models: Mamba (2 layers, D=64, the S6 layer; Adam 1e-3, no weight decay) and attention baselines (2 layers, D=128,
8 heads; Adam 2e-4) with learned absolute positions (MHA-Abs), rotary positions (MHA-RoPE) or rotary positions with
xPos's decay (MHA-xPos), from the shared transformer in repro/nn. The loss and the accuracy are on the answer token
only (the last position).

After training, ``final_metrics`` measures the accuracy (percent) on a fixed validation set at each of the scale's
``test_lengths``: Mamba through its constant-memory recurrence (recurrent.py), attention through its parallel
forward up to ``attention_max_length`` (its L x L scores grow quadratically; beyond, the metric is `not run` with
the memory it would need, as the paper's table marks OOM). Table 2's lengths a scale does not test are `not run`
with that reason. ``acc_x1``, ``acc_x2``, ``acc_x4`` repeat the accuracies at 1, 2 and 4 times the training length
(the attention claims, whose reduced scale trains at a shorter length).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from papers.mamba import induction, recurrent
from papers.mamba.model import SequenceModel
from repro import seeding
from repro.nn.transformer import TransformerLM
from repro.train import Task

TABLE2_LENGTHS = [2 ** k for k in range(6, 21)]          # 2^6 .. 2^20
RATIOS = (1, 2, 4)                                        # test length / training length, for acc_x<k>


def build_model(cfg: dict, seed: int) -> nnx.Module:
    m, t = cfg["model"], cfg["task"]
    rngs = nnx.Rngs(params=seeding.key(seed, "init"))
    if m["kind"] == "attention":
        longest = min(max([t["train_length"], *t["test_lengths"]]), t["attention_max_length"])
        return TransformerLM(t["vocab_size"], m["d_model"], m["layers"], m["heads"], longest, rngs=rngs,
                             positions=m["positions"], xpos_scale_base=m["xpos_scale_base"],
                             position_scale=m["position_scale"], mlp=m["mlp"])
    return SequenceModel({**m, "vocab_size": t["vocab_size"]}, rngs=rngs)


def answer_loss(logits, answers):
    logits = logits.astype(jnp.float32)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, answers).mean()
    return loss, 100.0 * jnp.mean(jnp.argmax(logits, -1) == answers)


def attention_bytes(length: int, heads: int, batch: int) -> int:
    """The float32 attention scores of one layer at this length: what limits attention's test length."""
    return 4 * batch * heads * length * length


def eval_size(t: dict, length: int) -> tuple[int, int]:
    """(examples, batch) of the validation set at ``length``: ``eval_examples`` below ``long_eval_from``, then
    ``long_eval_examples`` (a recurrent pass over 2^20 tokens is a million sequential steps on a cpu)."""
    examples = t["eval_examples"] if length < t["long_eval_from"] else t["long_eval_examples"]
    batch = min(t["eval_batch"], examples)
    return max(1, examples // batch) * batch, batch


def validation_keys(t: dict, length: int):
    """One key per evaluation batch of the fixed validation set at ``length`` (the same for every seed and model)."""
    examples, batch = eval_size(t, length)
    return jax.random.split(induction.validation_key(t["eval_seed"], length), examples // batch)


def accuracy_at(model, cfg: dict, length: int) -> float:
    t = cfg["task"]
    last = (jax.jit(recurrent.last_logits) if cfg["model"]["kind"] != "attention"
            else jax.jit(lambda m, x: m(x)[:, -1]))
    keys = validation_keys(t, length)
    size = eval_size(t, length)[1]
    correct = 0.0
    for key in keys:
        x, answers = induction.batch(key, size, length, t["vocab_size"])
        correct += float(jnp.sum(jnp.argmax(last(model, x), -1) == answers))
    return 100.0 * correct / (len(keys) * size)


def final_metrics(model, cfg: dict) -> dict:
    t, m = cfg["task"], cfg["model"]
    out, not_run = {}, {}
    for length in sorted(set(TABLE2_LENGTHS) | set(t["test_lengths"])):
        name = f"acc_{length}"
        if length not in t["test_lengths"]:
            not_run[name] = f"not tested at this scale (test_lengths: {', '.join(map(str, t['test_lengths']))})"
        elif m["kind"] == "attention" and length > t["attention_max_length"]:
            gib = attention_bytes(length, m["heads"], t["eval_batch"]) / 2 ** 30
            not_run[name] = (f"attention at {length} tokens needs {gib:.3g} GiB of scores per layer (batch "
                             f"{t['eval_batch']}); this scale stops attention at {t['attention_max_length']} tokens")
        else:
            out[name] = accuracy_at(model, cfg, length)
    out["min_tested_accuracy"] = min(out.values()) if out else None
    # the same accuracies named by their ratio to the training length (Table 2's 2^8, 2^9, 2^10 are 1x, 2x, 4x its 256)
    for k in RATIOS:
        name, absolute = f"acc_x{k}", f"acc_{k * t['train_length']}"
        if absolute in out:
            out[name] = out[absolute]
        else:
            not_run[name] = not_run.get(absolute, f"{k * t['train_length']} tokens not tested at this scale")
    return {**out, "not_run": not_run}


def build_task(cfg: dict, seed: int, model: nnx.Module | None = None) -> Task:
    """``model``: an already built model (repro/cost_plan.py hands an abstract one); default: ``build_model``."""
    t, tr = cfg["task"], cfg["train"]
    model = build_model(cfg, seed) if model is None else model

    def batch(key, size=tr["batch_size"]):
        return induction.batch(key, size, t["train_length"], t["vocab_size"])

    def loss(model, b):
        value, accuracy = answer_loss(model(b[0])[:, -1], b[1])
        return value, {"accuracy": accuracy}

    eval_keys = validation_keys(t, t["train_length"])

    def evaluate(model):
        def one(k):
            x, answers = batch(k, t["eval_batch"])
            return answer_loss(model(x)[:, -1], answers)
        losses, accs = jax.lax.map(one, eval_keys)
        return {"loss": jnp.mean(losses), "accuracy": jnp.mean(accs)}

    return Task(model=model, optimizer=optax.adam(tr["lr"]), batch=batch, loss=loss, evaluate=evaluate,
                items_per_step=tr["batch_size"] * t["train_length"],
                final_metrics=lambda m: final_metrics(m, cfg))
