"""train.precision=bf16 through every Table 1 layer and block (repro/precision.py): the loss and its gradients are
finite and float32, the SSM's own parameters stay float32, the projections bfloat16, and the loss and gradient
direction are fp32's to bf16's resolution."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from papers.mamba.model import SequenceModel
from repro import precision

CFG = {"expand": 2, "d_conv": 4, "d_state": 4, "s4_state": 8, "s4_init": "lin", "scan_method": "sequential",
       "d_model": 8, "layers": 1, "vocab_size": 6}


# every inner layer (S4D, S6, Hyena; H3's shift SSM) and every block (no gate, Mamba, H3) once
@pytest.mark.parametrize("kind,layer", [("no_gate", "s4"), ("mamba", "s6"), ("h3", "hyena")])
def test_a_bf16_loss_and_gradients_for_every_table1_layer_and_block(kind, layer):
    model = SequenceModel({**CFG, "kind": kind, "layer": layer}, rngs=nnx.Rngs(params=0))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tokens = jax.random.randint(jax.random.key(1), (2, 16), 0, 6)

    def loss(p, x, _):
        logits = nnx.merge(graphdef, p, rest)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), x).mean(), {}

    keep = precision.fp32_params(model)
    grad = jax.jit(jax.value_and_grad(lambda p, x, pr: precision.loss_in(loss, pr, keep)(p, x, None)[0]),
                   static_argnums=2)
    (l32, g32), (l16, g16) = grad(params, tokens, "fp32"), grad(params, tokens, "bf16")
    assert l16.dtype == jnp.float32 and np.isfinite(float(l16))
    assert abs(float(l16) - float(l32)) <= 0.02 * abs(float(l32))
    a, b = (np.concatenate([np.ravel(x) for x in jax.tree.leaves(g)]) for g in (g32, g16))
    assert a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) > 0.95          # the same descent direction
    assert all(g.dtype == jnp.float32 and np.isfinite(np.asarray(g)).all() for g in jax.tree.leaves(g16))
    # what the step computes with: the SSM's own parameters float32, the block's projections bfloat16
    cast = {jax.tree_util.keystr(k): x.dtype
            for k, x in jax.tree_util.tree_leaves_with_path(precision.cast_floats(params, jnp.bfloat16, keep))}
    ssm_own = [k for k in cast if ("['ssm']" in k or "['shift']" in k) and "x_proj" not in k]
    assert ssm_own and all(cast[k] == jnp.float32 for k in ssm_own), {k: cast[k] for k in ssm_own}
    assert cast["['blocks'][0]['in_proj']['kernel'].value"] == jnp.bfloat16
