"""Mixed precision, ``train.precision: fp32 | bf16`` (issue 24, item 3).

bf16 is the policy of mixed-precision training as the Mamba reference code (PyTorch AMP) and the Switch Transformer
(bfloat16 with "selective precision", section 2.4) run it:
- the parameters and the optimizer state stay float32: the optimizer updates a float32 master copy;
- each step evaluates the loss on a bfloat16 copy of the parameters and of the batch's floating inputs, so matmuls
  and activations are bfloat16; gradients flow back through the cast and arrive in float32;
- a paper keeps some parameters in float32 (``fp32_params``, a regular expression over the parameter's path: the
  SSM parameters of Mamba/S4, the normalisation scales, the MoE router), and its code upcasts the computations it
  keeps in float32 where it does them: the selective scan and the S4D/Hyena/H3 convolutions (FFTs), softmax
  (attention, the router, GAT's edge softmax), normalisation statistics (flax's LayerNorm/BatchNorm, repro's
  RMSNorm) and the losses (cross-entropy and reconstruction errors reduced in float32);
- the loss and the metrics a step reports are float32; evaluation runs in float32 on the master parameters.

fp32 is the identity: the same program as without this module.
"""
from __future__ import annotations

import re

import jax
import jax.numpy as jnp

DTYPES = {"fp32": jnp.float32, "bf16": jnp.bfloat16}


class PrecisionError(ValueError):
    pass


def dtype(precision: str):
    if precision not in DTYPES:
        raise PrecisionError(f"train.precision={precision!r} is not known; valid: {', '.join(DTYPES)}")
    return DTYPES[precision]


def _floating(x) -> bool:
    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating)


def cast_floats(tree, to, keep: str = ""):
    """Every floating leaf of ``tree`` as ``to``, except those whose path matches the regular expression ``keep``;
    integer, boolean and key leaves as they are."""
    pattern = re.compile(keep) if keep else None

    def cast(path, x):
        if not _floating(x) or x.dtype == to:
            return x
        if pattern is not None and pattern.search(jax.tree_util.keystr(path)):
            return x
        return x.astype(to)
    return jax.tree_util.tree_map_with_path(cast, tree)


def loss_in(loss, precision: str, fp32_params: str = ""):
    """``loss`` (params, batch, extra) -> (loss, aux) evaluated under ``precision``: the identity for fp32; for bf16
    the parameters (but ``fp32_params``) and the batch's floats in bfloat16, the loss and aux back in float32."""
    to = dtype(precision)
    if to == jnp.float32:
        return loss

    def mixed(params, batch, extra):
        value, aux = loss(cast_floats(params, to, fp32_params), cast_floats(batch, to), extra)
        return value.astype(jnp.float32), cast_floats(aux, jnp.float32)
    return mixed


def f32(x):
    """``x`` in float32 (a no-op in fp32 runs): where a paper keeps a computation in float32 (the SAE losses)."""
    return x.astype(jnp.float32)


def fp32_params(model) -> str:
    """The regular expression for ``cast_floats``'s ``keep``: the parameters (or sub-modules) that ``model``'s modules
    name in their class attribute ``FP32_PARAMS``, each as its full path (``['blocks'][0]['ssm']['A_log']``)."""
    from flax import nnx
    prefixes = sorted("".join(f"[{p!r}]" for p in (*path, name))
                      for path, m in nnx.iter_modules(model) for name in getattr(type(m), "FP32_PARAMS", ()))
    return "^(" + "|".join(re.escape(p) for p in prefixes) + r")(\[|\.|$)" if prefixes else ""
