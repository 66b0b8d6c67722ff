"""The MoE paper's config, typed (repro/schema.py): what papers/moe/config.yaml may set, with its types and
ranges. The resolver refuses anything else before a job starts."""
from __future__ import annotations

from typing import Literal

from repro.schema import (LM, LMTrain, NonNegative, NonNegativeFloat, PaperConfig, Positive, PositiveFloat,
                          Section, Windows)


class Task(Section):
    kind: Literal["lm", "speedup"]


class Data(Section):
    registry: str                              # a data/registry.yaml entry


class MoeLM(LM):
    d_ff: Positive                             # the dense FFN's width; each expert gets d_ff / k


class Moe(Section):
    experts: NonNegative                       # 0: the dense model
    every: Positive
    k: Positive
    flop_matched: bool                         # experts d_ff / k wide (Switch Fig. 4); false: d_ff (Table 1)
    router: Literal["softmax", "noisy"]
    capacity_factor: PositiveFloat
    dropless: bool
    group_size: Positive
    dispatch: Literal["onehot", "gather", "ragged"]
    balance_coef: NonNegativeFloat
    z_coef: NonNegativeFloat
    importance_coef: NonNegativeFloat
    load_coef: NonNegativeFloat
    router_init_scale: PositiveFloat


class Speedup(Section):
    baseline: str                              # experiments: whose curve reaches whose final loss
    model: str


class Config(PaperConfig):
    task: Task
    needs: list[str]
    data: Data
    lm: MoeLM
    moe: Moe
    speedup: Speedup
    train: LMTrain
    eval: Windows
