"""The deep S4 classifier for sequential images (S4 paper, Section 3.4; the S4 repository's example model).

pixels (batch, L, 1) -> Linear(1, H) -> n_layer x [ S4D -> GELU -> dropout -> Linear(H, 2H) -> GLU -> dropout,
residual, post LayerNorm ] -> mean over the sequence -> Linear(H, classes).

Each S4 layer is the diagonal S4D kernel (s4d.py) applied to H independent channels, mixed by the position-wise
linear layer (S4 paper, Section 3.4: "H independent copies ... mixed with a position-wise linear layer"). Dropout
takes an explicit key so the model stays a pure function inside the jitted training loop.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from papers.mamba.s4d import S4D

# the S4 repository trains these with a smaller learning rate and no weight decay (S4 paper, Appendix D)
SSM_PARAMS = ("log_neg_a_re", "a_im", "log_dt")


def dropout(x, rate: float, key):
    if key is None or rate == 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


class S4Layer(nnx.Module):
    FP32_PARAMS = ("norm",)           # the LayerNorm's scale and bias stay float32 under train.precision=bf16

    def __init__(self, channels: int, n_state: int, init: str, dropout_rate: float, *, rngs: nnx.Rngs):
        self.s4 = S4D(channels, n_state=n_state, init=init, rngs=rngs)
        self.mix = nnx.Linear(channels, 2 * channels, rngs=rngs)
        self.norm = nnx.LayerNorm(channels, rngs=rngs)
        self.rate = dropout_rate

    def __call__(self, x, key=None):
        k1, k2 = jax.random.split(key) if key is not None else (None, None)
        z = dropout(jax.nn.gelu(self.s4(x)), self.rate, k1)
        z = dropout(jax.nn.glu(self.mix(z), axis=-1), self.rate, k2)
        return self.norm(x + z)


class S4Classifier(nnx.Module):
    def __init__(self, cfg: dict, n_classes: int, *, rngs: nnx.Rngs):
        d = cfg["d_model"]
        self.encoder = nnx.Linear(1, d, rngs=rngs)
        self.layers = nnx.List([S4Layer(d, cfg["s4_state"], cfg["s4_init"], cfg["dropout"], rngs=rngs)
                                for _ in range(cfg["layers"])])
        self.decoder = nnx.Linear(d, n_classes, rngs=rngs)

    def __call__(self, pixels, key=None):
        """pixels: (batch, L) float -> logits (batch, classes); ``key`` turns dropout on (training)."""
        x = self.encoder(pixels[..., None].astype(jnp.float32))
        keys = jax.random.split(key, len(self.layers)) if key is not None else [None] * len(self.layers)
        for layer, k in zip(self.layers, keys):
            x = layer(x, k)
        return self.decoder(jnp.mean(x, axis=1))
