"""The GNN papers' config, typed (repro/schema.py): what papers/gnn/config.yaml may set, with its types and
ranges. The resolver refuses anything else before a job starts."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from repro.schema import Fraction, NonNegativeFloat, PaperConfig, Positive, PositiveFloat, Section, Train


class Task(Section):
    kind: Literal["planetoid", "multisets", "wl_pair", "csl", "tu"]
    features: Literal["constant", "random", "rwpe"]
    draws: Positive


class Data(Section):
    name: Literal["cora", "citeseer", "pubmed",                                   # planetoid
                  "MUTAG", "PTC", "NCI1", "PROTEINS", "IMDBBINARY", "IMDBMULTI"]  # tu (papers/gnn/tu.py)
    registry: str                              # "" for generated data


class Model(Section):
    kind: Literal["gcn", "mlp", "gat", "gin"]
    hidden: Positive                           # gat: per head
    layers: Positive
    residual: bool
    dropout: Fraction
    dropout_on: Literal["all", "ends"]
    heads: Positive
    out_heads: Positive
    aggregator: Literal["sum", "mean", "max"]
    random_dim: Positive
    learn_eps: bool                            # gin: GIN-eps (learned eps per layer) or GIN-0


class GnnTrain(Train):
    lr: PositiveFloat
    weight_decay: NonNegativeFloat
    weight_decay_on: Literal["first", "all"]
    stop: Literal["gcn", "gat", "none"]
    window: Positive                           # gcn rule
    patience: Positive                         # gat rule
    batch_size: Positive                       # tu: graphs per random batch


class Search(Section):
    """GIN Section 7's grid; an empty list: the experiment's own value (model.hidden, train.batch_size,
    model.dropout)."""
    hidden: list[Positive]
    batch_size: list[Positive]
    dropout: list[Fraction]


class CrossValidation(Section):
    """GIN Table 1's protocol (task.kind tu, papers/gnn/gin_tu.py)."""
    folds: Annotated[int, Field(ge=2)]
    epochs: Positive
    iters_per_epoch: Positive
    lr_step: Positive                          # StepLR: train.lr times lr_gamma every lr_step epochs
    lr_gamma: PositiveFloat
    search: Search


class Config(PaperConfig):
    task: Task
    data: Data
    model: Model
    train: GnnTrain
    cv: CrossValidation
