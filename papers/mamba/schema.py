"""The Mamba paper's config, typed (repro/schema.py): what papers/mamba/config.yaml may set, with its types and
ranges. The resolver refuses anything else before a job starts."""
from __future__ import annotations

from typing import Literal, Optional

from repro.schema import Fraction, NonNegative, NonNegativeFloat, PaperConfig, Positive, PositiveFloat, Section, Train


class Data(Section):
    tfds: Optional[str] = None            # a TensorFlow Datasets name (repro/tfds_data.py)


class Task(Section):
    kind: Literal["selective_copying", "induction", "timing", "sequential_mnist"]
    seq_len: Positive                     # selective copying: the region the data tokens are scattered over
    n_tokens: Positive
    vocab_size: Positive
    eval_examples: Positive
    eval_batch: Positive
    eval_seed: int
    train_length: Positive                # induction: training length
    test_lengths: list[Positive]          # induction: lengths tested after training
    attention_max_length: Positive
    long_eval_from: Positive              # induction: from this test length on, the validation set is smaller
    long_eval_examples: Positive          # induction: ... this many examples (a recurrent pass over 2^20 tokens costs)
    timing_lengths: list[Positive]
    timing_repeats: Positive
    permute: bool                         # sequential MNIST: psMNIST
    permutation_seed: int
    train_examples: NonNegative           # 0: all
    test_examples: NonNegative


class Model(Section):
    kind: Literal["mamba", "no_gate", "h3", "attention", "s4_classifier"]
    layer: Literal["s6", "s4", "hyena"]
    d_model: Positive
    layers: Positive
    expand: Positive
    d_conv: Positive
    d_state: Positive
    s4_state: Positive
    s4_init: Literal["lin", "inv", "real"]
    scan_method: Literal["auto", "sequential", "associative", "chunked"]
    heads: Positive
    positions: Literal["learned", "rope", "xpos"]
    xpos_scale_base: PositiveFloat        # positions=xpos: xPos's decay length (repro/nn/transformer.py)
    position_scale: PositiveFloat         # rope / xpos: positions times this (a shorter-trained miniature's angles)
    mlp: bool                             # attention: a feed-forward sub-layer in each block (false: attention-only)
    dropout: Fraction


class MambaTrain(Train):
    batch_size: Positive
    lr: PositiveFloat
    weight_decay: NonNegativeFloat
    ssm_lr: PositiveFloat


class Config(PaperConfig):
    data: Data
    task: Task
    model: Model
    train: MambaTrain
