"""The sparse-autoencoder papers' config, typed (repro/schema.py): what papers/sae/config.yaml may set, with its
types and ranges. The resolver refuses anything else before a job starts."""
from __future__ import annotations

from typing import Literal

from repro.schema import (LM, Fraction, LMTrain, NonNegative, NonNegativeFloat, PaperConfig, Positive,
                          PositiveFloat, Section, Windows)


class Task(Section):
    kind: Literal["sharkey", "superposition", "lm", "lm_sae", "matched"]
    target: str                                # matched: the run whose L0 the sweep is read at
    sweep: list[str]                           # matched: the ReLU runs of the L1 sweep


class Data(Section):
    registry: str                              # "" for generated data
    features: Positive
    dim: Positive
    correlated: bool
    eval_size: Positive


class Model(Section):
    kind: Literal["relu", "topk", "jumprelu"]
    latents: Positive
    l1: NonNegativeFloat
    k: Positive
    k_aux: NonNegative                         # 0: no AuxK
    aux_coef: NonNegativeFloat
    tied_init: bool
    dead_after: Positive
    l0_coef: NonNegativeFloat
    eps: PositiveFloat
    init_threshold: NonNegativeFloat


class Toy(Section):
    features: Positive
    hidden: Positive
    importance_decay: PositiveFloat
    p_active: list[Fraction]
    p_decades: PositiveFloat
    p_points: Positive
    plateau_tol: PositiveFloat


class Sae(Section):
    lm_experiment: str
    layer: NonNegative
    train_windows: Positive


class Config(PaperConfig):
    task: Task
    needs: list[str]
    data: Data
    model: Model
    train: LMTrain
    toy: Toy
    lm: LM
    eval: Windows
    sae: Sae
