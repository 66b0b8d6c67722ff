"""The GNN papers' config, typed (repro/schema.py): what papers/gnn/config.yaml may set, with its types and
ranges. The resolver refuses anything else before a job starts."""
from __future__ import annotations

from typing import Literal

from repro.schema import Fraction, NonNegativeFloat, PaperConfig, Positive, PositiveFloat, Section, Train


class Task(Section):
    kind: Literal["planetoid", "multisets", "wl_pair", "csl"]
    features: Literal["constant", "random", "rwpe"]
    draws: Positive


class Data(Section):
    name: Literal["cora", "citeseer", "pubmed"]
    registry: str                              # "" for generated data


class Model(Section):
    kind: Literal["gcn", "mlp", "gat"]
    hidden: Positive                           # gat: per head
    layers: Positive
    residual: bool
    dropout: Fraction
    dropout_on: Literal["all", "ends"]
    heads: Positive
    out_heads: Positive
    aggregator: Literal["sum", "mean", "max"]
    random_dim: Positive


class GnnTrain(Train):
    lr: PositiveFloat
    weight_decay: NonNegativeFloat
    weight_decay_on: Literal["first", "all"]
    stop: Literal["gcn", "gat", "none"]
    window: Positive                           # gcn rule
    patience: Positive                         # gat rule


class Config(PaperConfig):
    task: Task
    data: Data
    model: Model
    train: GnnTrain
