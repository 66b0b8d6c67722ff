"""PyTorch Geometric reference runs of GCN and GAT on a Planetoid-style split, for CPU timing.

Both functions follow the training protocol of the authors' own TensorFlow code, so that their
wall time and test accuracy can be set against the JAX implementation:

* GCN: T. N. Kipf and M. Welling, "Semi-Supervised Classification with Graph Convolutional
  Networks", ICLR 2017 (arXiv:1609.02907); protocol of github.com/tkipf/gcn.
* GAT: P. Velickovic, G. Cucurull, A. Casanova, A. Romero, P. Lio and Y. Bengio, "Graph Attention
  Networks", ICLR 2018 (arXiv:1710.10903); protocol of github.com/PetarV-/GAT.

``data`` is a dict of numpy arrays: ``x`` float32 (N, F), row-normalised; ``senders``,
``receivers`` int64 (E,), every undirected edge in both directions, no self-loops; ``y`` int64
(N,); ``train_mask``, ``val_mask``, ``test_mask`` bool (N,). Each function returns
``{"test_accuracy": percent, "seconds": wall time of training and evaluation, "epochs": run}``;
the conversion of ``data`` to tensors is not timed.

Threads are torch's default unless the environment variable ``BENCH_THREADS`` is set.

Needs the packages of ``benchmarks/requirements-pyg.txt`` (torch CPU and torch_geometric only;
no torch_scatter / torch_sparse).
"""
from __future__ import annotations

import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch_geometric.nn import GATConv, GCNConv


def _set_threads() -> None:
    """Apply ``BENCH_THREADS`` if set; otherwise leave torch's default thread count."""
    n = os.environ.get("BENCH_THREADS")
    if n:
        torch.set_num_threads(int(n))


def _to_tensors(data: dict) -> dict:
    """The numpy arrays of ``data`` as torch tensors, with ``edge_index`` of shape (2, E) and
    ``nonzeros``, the (row, col) indices of the non-zero features."""
    edge_index = np.stack([data["senders"], data["receivers"]]).astype(np.int64)
    x = torch.from_numpy(np.ascontiguousarray(data["x"], dtype=np.float32))
    return {
        "x": x,
        "nonzeros": x.nonzero(as_tuple=True),
        "edge_index": torch.from_numpy(edge_index),
        "y": torch.from_numpy(np.asarray(data["y"], dtype=np.int64)),
        "train": torch.from_numpy(np.asarray(data["train_mask"], dtype=bool)),
        "val": torch.from_numpy(np.asarray(data["val_mask"], dtype=bool)),
        "test": torch.from_numpy(np.asarray(data["test_mask"], dtype=bool)),
    }


class _InputDropout(torch.nn.Module):
    """Dropout on the input features.

    By default ``F.dropout`` on the dense matrix. With ``nonzeros`` (the (row, col) indices of the
    non-zero entries of ``x``) only those entries are drawn, as in Kipf & Welling's
    ``sparse_dropout``: the same distribution, since zeros stay zero, but torch's CPU Bernoulli
    sampler then draws ~50k numbers instead of N*F (~3.9M on Cora, ~40 ms an epoch on 2 cores).
    """

    def __init__(self, p: float, nonzeros: tuple[torch.Tensor, torch.Tensor] | None = None):
        super().__init__()
        self.p, self.nonzeros = p, nonzeros

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.nonzeros is None:
            return F.dropout(x, self.p, self.training)
        out = torch.zeros_like(x)
        out[self.nonzeros] = F.dropout(x[self.nonzeros], self.p, True)
        return out


def _accuracy(logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> float:
    """Fraction of the nodes in ``mask`` whose arg-max prediction equals the label."""
    return (logits[mask].argmax(dim=1) == y[mask]).float().mean().item()


class _GCN(torch.nn.Module):
    """Kipf & Welling's two-layer GCN: dropout, GCNConv, ReLU, dropout, GCNConv (no biases).

    GCNConv adds self-loops and uses the symmetric normalisation D^-1/2 (A + I) D^-1/2, with
    Glorot-uniform weights, as in the paper. ``cached=True`` computes the normalised adjacency once
    (transductive setting), as the authors' code does in preprocessing.
    """

    def __init__(self, n_features: int, n_classes: int, hidden: int = 16, dropout: float = 0.5,
                 nonzeros: tuple[torch.Tensor, torch.Tensor] | None = None):
        super().__init__()
        self.dropout = dropout
        self.input_dropout = _InputDropout(dropout, nonzeros)
        self.conv1 = GCNConv(n_features, hidden, bias=False, cached=True)
        self.conv2 = GCNConv(hidden, n_classes, bias=False, cached=True)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        x = self.input_dropout(x)
        x = F.relu(self.conv1(x, edge_index))
        x = F.dropout(x, self.dropout, self.training)
        return self.conv2(x, edge_index)


def train_gcn(data: dict, seed: int, epochs: int = 200, sparse_input_dropout: bool = False) -> dict:
    """Train and test a GCN with the protocol of Kipf & Welling (ICLR 2017), tkipf/gcn.

    Adam (lr 0.01); loss = mean cross-entropy over the training nodes + 5e-4 * ||W1||^2 / 2 (weight
    decay on the first layer only, as in the authors' code). Each epoch makes one training step
    (dropout on), then computes the validation loss with dropout off, L2 term included. Early
    stopping (window 10): from epoch index 11 on, stop once the validation loss exceeds the mean
    of the ten before it. Test accuracy at the final weights.

    ``sparse_input_dropout`` draws the input dropout on the non-zero features only (see
    ``_InputDropout``), as the authors' code does; the default is plain ``F.dropout``.
    """
    _set_threads()
    t = _to_tensors(data)
    x, edge_index, y = t["x"], t["edge_index"], t["y"]
    n_classes = int(y.max().item()) + 1
    window, weight_decay = 10, 5e-4

    start = time.perf_counter()
    torch.manual_seed(seed)
    model = _GCN(x.shape[1], n_classes, nonzeros=t["nonzeros"] if sparse_input_dropout else None)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)

    def loss_fn(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        l2 = model.conv1.lin.weight.pow(2).sum() / 2
        return F.cross_entropy(logits[mask], y[mask]) + weight_decay * l2

    val_losses: list[float] = []
    epoch = 0
    for epoch in range(epochs):
        model.train()
        opt.zero_grad()
        loss_fn(model(x, edge_index), t["train"]).backward()
        opt.step()

        model.eval()
        with torch.no_grad():
            val_losses.append(loss_fn(model(x, edge_index), t["val"]).item())
        if epoch > window and val_losses[-1] > np.mean(val_losses[-(window + 1):-1]):
            break

    model.eval()
    with torch.no_grad():
        acc = _accuracy(model(x, edge_index), y, t["test"])
    seconds = time.perf_counter() - start
    return {"test_accuracy": 100.0 * acc, "seconds": seconds, "epochs": epoch + 1}


class _GAT(torch.nn.Module):
    """Velickovic et al.'s two-layer GAT for transductive tasks (Cora).

    Layer 1: 8 heads of 8 features, concatenated, then ELU; layer 2: one head with ``n_classes``
    outputs. Dropout 0.6 on each layer's input and on the normalised attention coefficients;
    LeakyReLU slope 0.2 and self-loops are GATConv's defaults.
    """

    def __init__(self, n_features: int, n_classes: int, hidden: int = 8, heads: int = 8,
                 dropout: float = 0.6, nonzeros: tuple[torch.Tensor, torch.Tensor] | None = None):
        super().__init__()
        self.dropout = dropout
        self.input_dropout = _InputDropout(dropout, nonzeros)
        self.conv1 = GATConv(n_features, hidden, heads=heads, dropout=dropout)
        self.conv2 = GATConv(hidden * heads, n_classes, heads=1, concat=False, dropout=dropout)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        x = self.input_dropout(x)
        x = F.elu(self.conv1(x, edge_index))
        x = F.dropout(x, self.dropout, self.training)
        return self.conv2(x, edge_index)


def train_gat(data: dict, seed: int, max_epochs: int = 100_000, patience: int = 100,
              sparse_input_dropout: bool = False) -> dict:
    """Train and test a GAT with the protocol of Velickovic et al. (ICLR 2018), PetarV-/GAT.

    Adam (lr 0.005); loss = mean cross-entropy over the training nodes + 5e-4 * sum over every
    parameter (weights, attention vectors and biases) of ||w||^2 / 2. Each epoch
    makes one training step, then evaluates on the validation nodes with dropout off (loss without
    the L2 term). An epoch whose validation accuracy is >= the best so far or whose loss is <= the
    lowest so far resets the patience counter; if both hold, the weights are checkpointed. Training
    stops after ``patience`` epochs in a row with neither; the test accuracy is that of the
    checkpoint. ``sparse_input_dropout``: as in ``train_gcn``.

    (The authors' filter ``v.name not in ['bias', ...]`` compares full TF variable names such as
    ``.../bias:0``, so it never matches and every variable is decayed; so here, and in our JAX GAT.)
    One difference remains: GATConv drops out the attention coefficients but not the projected
    features W h, which the authors' code (and ours) also drop out at 0.6.
    """
    _set_threads()
    t = _to_tensors(data)
    x, edge_index, y = t["x"], t["edge_index"], t["y"]
    n_classes = int(y.max().item()) + 1
    weight_decay = 5e-4

    start = time.perf_counter()
    torch.manual_seed(seed)
    model = _GAT(x.shape[1], n_classes, nonzeros=t["nonzeros"] if sparse_input_dropout else None)
    opt = torch.optim.Adam(model.parameters(), lr=0.005)
    decayed = list(model.parameters())

    vacc_mx, vlss_mn, curr = 0.0, math.inf, 0
    checkpoint = None
    epoch = 0
    for epoch in range(max_epochs):  # noqa: B007 (read after the loop: the epochs run)
        model.train()
        opt.zero_grad()
        logits = model(x, edge_index)
        l2 = sum(p.pow(2).sum() for p in decayed) / 2
        loss = F.cross_entropy(logits[t["train"]], y[t["train"]]) + weight_decay * l2
        loss.backward()
        opt.step()

        model.eval()
        with torch.no_grad():
            logits = model(x, edge_index)
            val_loss = F.cross_entropy(logits[t["val"]], y[t["val"]]).item()
            val_acc = _accuracy(logits, y, t["val"])

        if val_acc >= vacc_mx or val_loss <= vlss_mn:
            if val_acc >= vacc_mx and val_loss <= vlss_mn:
                checkpoint = {k: v.detach().clone() for k, v in model.state_dict().items()}
            vacc_mx = max(vacc_mx, val_acc)
            vlss_mn = min(vlss_mn, val_loss)
            curr = 0
        else:
            curr += 1
            if curr == patience:
                break

    model.load_state_dict(checkpoint)  # epoch 0 always checkpoints (vacc_mx=0, vlss_mn=inf)
    model.eval()
    with torch.no_grad():
        acc = _accuracy(model(x, edge_index), y, t["test"])
    seconds = time.perf_counter() - start
    return {"test_accuracy": 100.0 * acc, "seconds": seconds, "epochs": epoch + 1}
