"""The Planetoid citation graphs (Yang et al. 2016) as GCN and GAT used them.

Files (github.com/kimiyoung/planetoid, data/): ``ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index}``; x/tx/allx are
pickled scipy CSR matrices, y/ty/ally one-hot arrays, graph a dict node -> neighbours, test.index the 1000 test ids.

The standard procedure (Kipf & Welling's ``load_data``):
- node i < len(allx) has row i of allx; test node ``test.index[j]`` has row j of tx (the "test-index reordering");
- CiteSeer has test ids with no row in tx (isolated nodes missing from the source data): the id range is padded
  with zero feature rows and no label; they belong to no split;
- splits: train = the first len(y) nodes (Cora 140, CiteSeer 120, PubMed 60), validation = the next 500,
  test = the 1000 ids of test.index;
- features are row-normalised (each row divided by its sum; empty rows stay zero).

Self-loop convention: the edge list here has NO self-loops and no duplicates, and lists each undirected edge in both
directions. Models add exactly one self-loop per node (A + I). The raw CiteSeer graph lists 124 self-loops, which
the authors' code would have weighted 2 in A + I; here they weigh 1 like every other node's.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from repro import data as rdata

NAMES = {"cora": "planetoid", "citeseer": "planetoid", "pubmed": "planetoid-pubmed"}
PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph")
N_VAL, N_TEST = 500, 1000


@dataclass
class Planetoid:
    name: str
    features: sp.csr_matrix       # (N, F) float32, row-normalised
    labels: np.ndarray            # (N,) int32; -1 for the CiteSeer padding nodes
    senders: np.ndarray           # (E,) int32: undirected edges in both directions, no self-loops
    receivers: np.ndarray
    train: np.ndarray             # (N,) bool masks
    val: np.ndarray
    test: np.ndarray

    @property
    def n_nodes(self) -> int:
        return self.labels.shape[0]

    @property
    def n_classes(self) -> int:
        return int(self.labels.max()) + 1


class _Unpickler(pickle.Unpickler):
    """The files pickle scipy matrices under the old module path ``scipy.sparse.csr``."""

    def find_class(self, module, name):
        if module.startswith("scipy.sparse.") and not module.startswith("scipy.sparse._"):
            module = "scipy.sparse"
        return super().find_class(module, name)


def _load(registry: str, filename: str, root: Path | None):
    path = rdata.path(registry, filename, root)  # missing or corrupt -> DataError naming the file and the fetch
    if filename.endswith("test.index"):
        return np.array([int(line) for line in path.read_text().split()], dtype=np.int64)
    with open(path, "rb") as fh:
        obj = _Unpickler(fh, encoding="latin1").load()
    return obj


def edges_from_dict(graph: dict, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric, de-duplicated edge list without self-loops, sorted by (receiver, sender)."""
    src = np.fromiter((u for u, vs in graph.items() for _ in vs), dtype=np.int64)
    dst = np.fromiter((v for vs in graph.values() for v in vs), dtype=np.int64)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    a = sp.coo_matrix((np.ones(len(src)), (dst, src)), shape=(n_nodes, n_nodes)).tocsr()
    a = ((a + a.T) > 0).tocoo()
    order = np.lexsort((a.col, a.row))
    return a.col[order].astype(np.int32), a.row[order].astype(np.int32)


def row_normalise(x: sp.spmatrix) -> sp.csr_matrix:
    x = sp.csr_matrix(x, dtype=np.float64)
    s = np.asarray(x.sum(1)).ravel()
    inv = np.divide(1.0, s, out=np.zeros_like(s), where=s != 0)
    return sp.csr_matrix(sp.diags(inv) @ x, dtype=np.float32)


def load(name: str, root: Path | None = None) -> Planetoid:
    if name not in NAMES:
        raise ValueError(f"unknown Planetoid data set {name!r}; valid: {', '.join(NAMES)}")
    registry = NAMES[name]
    x, y, tx, ty, allx, ally, graph = (_load(registry, f"ind.{name}.{p}", root) for p in PARTS)
    test_ids = _load(registry, f"ind.{name}.test.index", root)
    n_train_pool = allx.shape[0]
    n = max(n_train_pool + tx.shape[0], int(test_ids.max()) + 1, len(graph))
    feats = sp.lil_matrix((n, allx.shape[1]), dtype=np.float32)
    feats[:n_train_pool] = allx
    feats[test_ids] = tx                      # test node test_ids[j] has row j of tx
    labels = np.full(n, -1, dtype=np.int32)
    labels[:n_train_pool] = np.argmax(np.asarray(ally), 1)
    ty = np.asarray(ty)
    labels[test_ids] = np.where(ty.sum(1) > 0, np.argmax(ty, 1), -1)
    senders, receivers = edges_from_dict(graph, n)
    masks = np.zeros((3, n), dtype=bool)
    n_train = y.shape[0]
    masks[0, :n_train] = True
    masks[1, n_train:n_train + N_VAL] = True
    masks[2, test_ids] = True
    return Planetoid(name, row_normalise(feats.tocsr()), labels, senders, receivers, *masks)
