"""H3's shift SSM and Hyena's long convolution against their defining equations, and the Table 1 models built from
them (papers/mamba/h3.py, hyena.py, blocks.py)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from papers.mamba import blocks
from papers.mamba.h3 import ShiftSSM
from papers.mamba.causal_conv import causal_conv_fft
from papers.mamba.causal_conv import causal_taps as causal_conv_direct
from papers.mamba.hyena import HyenaFilter
from papers.mamba.model import SequenceModel

BLOCK_CFG = {"expand": 2, "d_conv": 4, "d_state": 4, "s4_state": 8, "s4_init": "lin", "scan_method": "sequential"}


def test_shift_ssm_with_a_one_hot_c_is_a_shift():
    """With C = e_j and D = 0 the shift SSM outputs its input j steps late (zeros before): A is the shift matrix."""
    k = jax.random.normal(jax.random.key(0), (2, 12, 3))
    for j in (0, 1, 5):
        ssm = ShiftSSM(3, 8, rngs=nnx.Rngs(params=0))
        ssm.C[...] = jnp.zeros((8, 3)).at[j].set(1.0)
        ssm.D[...] = jnp.zeros(3)
        expected = jnp.concatenate([jnp.zeros((2, j, 3)), k[:, :12 - j]], axis=1)
        np.testing.assert_allclose(np.asarray(ssm(k)), np.asarray(expected), atol=1e-6)     # by FFT
        np.testing.assert_array_equal(np.asarray(ssm.recurrent(k)), np.asarray(expected))


def test_shift_ssm_convolution_equals_its_recurrence():
    ssm = ShiftSSM(5, 6, rngs=nnx.Rngs(params=1))
    k = jax.random.normal(jax.random.key(2), (3, 20, 5))
    np.testing.assert_allclose(np.asarray(ssm(k)), np.asarray(ssm.recurrent(k)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("length", [1, 7, 64])
def test_fft_convolution_equals_the_direct_convolution(length):
    u = jax.random.normal(jax.random.key(3), (2, length, 4))
    h = jax.random.normal(jax.random.key(4), (length, 4))
    np.testing.assert_allclose(np.asarray(causal_conv_fft(u, h)), np.asarray(jax.jit(causal_conv_direct)(u, h)),
                               rtol=1e-4, atol=1e-4)


def test_hyena_layer_is_its_implicit_filter_convolved_plus_the_skip():
    layer = HyenaFilter(4, rngs=nnx.Rngs(params=5))
    u = jax.random.normal(jax.random.key(6), (2, 32, 4))
    h = layer.filter(32)
    assert h.shape == (32, 4)
    expected = jax.jit(causal_conv_direct)(u, h) + u * layer.D[...]
    np.testing.assert_allclose(np.asarray(layer(u)), np.asarray(expected), rtol=1e-4, atol=1e-4)
    # the window: each channel's filter decays as exp(-alpha_c t / L), the slowest channel first
    assert float(layer.alpha[...][0]) < float(layer.alpha[...][-1])


@pytest.mark.parametrize("arch,layer", [("h3", "hyena"), ("mamba", "hyena"),
                                        # S4D and S6 inside H3: the same block, inner layers tested on their own
                                        pytest.param("h3", "s4", marks=pytest.mark.slow),
                                        pytest.param("h3", "s6", marks=pytest.mark.slow)])
def test_table1_models_are_causal_and_trainable(arch, layer):
    """The Table 1 rows these layers add: the output at t does not depend on inputs after t; gradients are finite."""
    cfg = {**BLOCK_CFG, "d_model": 8, "layers": 2, "kind": arch, "layer": layer, "vocab_size": 6}
    graphdef, params, rest = nnx.split(SequenceModel(cfg, rngs=nnx.Rngs(params=0)), nnx.Param, ...)
    forward = jax.jit(lambda p, t: nnx.merge(graphdef, p, rest)(t))
    tokens = jax.random.randint(jax.random.key(7), (2, 16), 0, 6)
    changed = tokens.at[:, 10:].set((tokens[:, 10:] + 1) % 6)
    a, b = forward(params, tokens), forward(params, changed)
    assert a.shape == (2, 16, 6)
    np.testing.assert_allclose(np.asarray(a[:, :10]), np.asarray(b[:, :10]), rtol=1e-5, atol=1e-5)
    assert not np.allclose(np.asarray(a[:, 10:]), np.asarray(b[:, 10:]))
    grads = jax.jit(jax.grad(lambda p: jnp.mean(forward(p, tokens) ** 2)))(params)
    assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree.leaves(grads))


def test_h3_block_is_q_times_inner_of_shifted_k_times_v():
    block = blocks.make_block("h3", 8, "hyena", BLOCK_CFG, 2, nnx.Rngs(params=0))
    x = jax.random.normal(jax.random.key(8), (2, 10, 8))

    def by_definition(x):
        q, k, v = jnp.split(x @ block.in_proj.kernel[...], 3, axis=-1)
        return (q * block.ssm(block.shift.recurrent(k) * v)) @ block.out_proj.kernel[...]
    np.testing.assert_allclose(np.asarray(jax.jit(block)(x)), np.asarray(jax.jit(by_definition)(x)),
                               rtol=1e-4, atol=1e-5)
