"""Typed configs: each paper's ``papers/<p>/schema.py`` declares its resolved config as pydantic models built on
these, and repro/config.py validates every resolved config against it, so an unknown key, a wrong type or a value
out of range is refused when the config is resolved (before any job starts: the workflow resolves every experiment
at plan time, repro/preflight.py), with the key's dotted path in the message.

One naming convention across papers: sections ``task`` (what is run; ``kind`` picks it), ``data``, ``model``
(``kind``, ``layers``, ``d_model``, ``heads``, ...), ``train``; sizes are ``*_size`` or plain counts, learning rates
``lr``, the batch ``train.batch_size``.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Positive = Annotated[int, Field(gt=0)]
NonNegative = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]


class Section(BaseModel):
    """A config section: no keys but those declared, no silent type conversion (an int is accepted for a float)."""
    model_config = ConfigDict(extra="forbid", strict=True)


class Train(Section):
    """The keys repro's training loop reads (repro/train.py, repro/fit.py, repro/parallel.py); a paper's train
    section extends this one with its optimizer's settings."""
    steps: Positive
    log_every: Positive
    eval_every: NonNegative = 0              # 0: only at the end
    checkpoint_every: NonNegative = 0        # 0: only at the end
    keep_checkpoints: Positive = 2
    devices: str = "1"                       # "1" | "N" | all (repro/parallel.py)
    precision: Literal["fp32", "bf16"] = "fp32"   # mixed precision (repro/precision.py)


class PaperConfig(Section):
    """A paper's resolved config (``run`` is added by the resolver and not part of the schema)."""


def errors(schema: type[BaseModel], cfg: dict) -> list[str]:
    """Every problem of ``cfg`` against ``schema``, one line each, named by the key's dotted path."""
    try:
        schema.model_validate({k: v for k, v in cfg.items() if k != "run"})
    except ValidationError as e:
        return [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg'].lower()} (got {err.get('input')!r})"
                for err in e.errors()]
    return []


class LM(Section):
    """The shared decoder-only transformer (repro/nn/transformer.py), as the MoE and SAE papers configure it."""
    d_model: Positive
    layers: Positive
    heads: Positive
    context: Positive


class LMTrain(Train):
    """repro/lm_recipe.py's optimizer: AdamW with linear warm-up and cosine decay."""
    batch_size: Positive
    lr: PositiveFloat
    warmup: NonNegative
    weight_decay: NonNegativeFloat


class Windows(Section):
    windows: Positive                          # validation windows, the same for every seed
