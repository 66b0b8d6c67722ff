"""SAE training on a tiny ground-truth problem: the ReLU SAE recovers the features; TopK keeps k active."""
import jax
import numpy as np
from flax import nnx

from papers.sae import fit as F
from papers.sae import metrics as M
from papers.sae import models as S
from papers.sae import toy_data as T

DIRS = T.feature_directions(jax.random.key(0), 8, 6)            # 8 features in 6 dimensions: overcomplete
PROBS = T.activation_probabilities(8, decay=1.0, mean_active=1.0)


def batch(key, data=None):
    return T.sharkey_batch(key, DIRS, PROBS, 64)[0]


def test_relu_sae_recovers_ground_truth_and_keeps_unit_decoder_rows():
    m = S.ReluSAE(6, 16, rngs=nnx.Rngs(params=1))
    before = M.mmcs(DIRS, m.w_dec[...])
    m, losses = F.fit_relu(m, batch, jax.random.key(2), steps=1500, lr=3e-3, l1=0.2)
    assert M.mmcs(DIRS, m.w_dec[...]) > 0.95 > before
    assert float(losses[-100:].mean()) < float(losses[:100].mean())
    assert np.allclose(np.linalg.norm(m.w_dec[...], axis=1), 1.0, atol=1e-5)


def test_topk_training_is_deterministic_and_sparse():
    runs = []
    for _ in range(2):
        m = S.TopKSAE(6, 16, 2, rngs=nnx.Rngs(params=1))
        m, losses, n_dead = F.fit_topk(m, batch, jax.random.key(2), steps=300, lr=3e-3, k_aux=4, dead_after=512)
        runs.append(np.asarray(m.w_dec[...]))
    assert np.array_equal(runs[0], runs[1])
    x = batch(jax.random.key(7))
    _, z = m(x)
    assert np.all(np.sum(np.asarray(z) != 0, -1) <= 2)
    assert n_dead.shape == (300,)
