"""GIN's graph-classification sets (Xu et al. 2019, Table 1) in the text format GIN's own code reads.

Files (registry ``tu``; the sets of github.com/weihua916/powerful-gnns, dataset.zip): ``<NAME>.txt`` holds the
number of graphs on its first line, then per graph a line ``n label`` followed by n node lines
``tag m nbr_1 ... nbr_m [attribute ...]`` (nodes numbered 0..n-1 within the graph).

GIN's conventions (powerful-gnns, util.load_data), kept here:
- graph labels and node tags are renumbered 0, 1, ... in the order they first appear in the file;
- edges come from the neighbour lists as an undirected graph: each listed pair once, in both directions;
- node features are the one-hot node tag; for the social sets, which have no tags (IMDB: every tag 0), the
  one-hot node degree over the degrees seen in the set (GIN's ``--degree_as_tag``; GIN Section 7.1).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from repro import data as rdata

REGISTRY = "tu"
SETS = ("MUTAG", "PTC", "NCI1", "PROTEINS", "IMDBBINARY", "IMDBMULTI")
SOCIAL = ("IMDBBINARY", "IMDBMULTI")       # no node tags: the features are the one-hot degrees


class FormatError(ValueError):
    """A TU file that does not follow the format: names the file and the line."""


@dataclass
class Graph:
    label: int                 # renumbered class, 0..n_classes-1
    tags: np.ndarray           # (n,) int: renumbered node tags
    senders: np.ndarray        # (E,) int32: undirected edges in both directions
    receivers: np.ndarray

    @property
    def n_nodes(self) -> int:
        return self.tags.shape[0]

    @property
    def degrees(self) -> np.ndarray:
        return np.bincount(self.receivers, minlength=self.n_nodes)


@dataclass
class TUDataset:
    name: str
    graphs: list[Graph]
    n_classes: int
    n_tags: int

    @property
    def labels(self) -> np.ndarray:
        return np.array([g.label for g in self.graphs], dtype=np.int32)

    def features(self, degree_as_tag: bool | None = None) -> list[np.ndarray]:
        """Per graph (n, F) float32 one-hot node features: the tag, or (social sets by default) the degree."""
        if degree_as_tag is None:
            degree_as_tag = self.name in SOCIAL
        if not degree_as_tag:
            return [np.eye(self.n_tags, dtype=np.float32)[g.tags] for g in self.graphs]
        seen = sorted({int(d) for g in self.graphs for d in g.degrees})
        index = {d: i for i, d in enumerate(seen)}
        return [np.eye(len(seen), dtype=np.float32)[[index[int(d)] for d in g.degrees]] for g in self.graphs]


def parse(text: str, source: str = "<text>") -> tuple[list[Graph], int, int]:
    """(graphs, n_classes, n_tags) from the text of one file."""
    lines = text.splitlines()
    pos = 0

    def row(what: str) -> list[int]:
        nonlocal pos
        if pos >= len(lines):
            raise FormatError(f"{source}: ended at line {pos} while reading {what}")
        pos += 1
        try:
            return [int(float(x)) for x in lines[pos - 1].split()]
        except ValueError:
            raise FormatError(f"{source}, line {pos}: {what} must be numbers: {lines[pos - 1]!r}") from None

    header = row("the number of graphs")
    if len(header) != 1:
        raise FormatError(f"{source}, line 1: the number of graphs, alone on the line; got {lines[0]!r}")
    label_ids, tag_ids, graphs = {}, {}, []
    for _ in range(header[0]):
        head = row("a graph's `n label` line")
        if len(head) != 2:
            raise FormatError(f"{source}, line {pos}: a graph starts with `n label`; got {lines[pos - 1]!r}")
        n, label = head
        tags, pairs = np.empty(n, dtype=np.int64), set()
        for j in range(n):
            r = row("a node line")
            if len(r) < 2 or len(r) < 2 + r[1]:
                raise FormatError(f"{source}, line {pos}: a node line is `tag m` and m neighbours; got "
                                  f"{lines[pos - 1]!r}")
            tags[j] = tag_ids.setdefault(r[0], len(tag_ids))
            for k in r[2:2 + r[1]]:
                if not 0 <= k < n:
                    raise FormatError(f"{source}, line {pos}: neighbour {k} outside the graph's {n} nodes")
                pairs.add((min(j, k), max(j, k)))
        e = np.array(sorted(pairs), dtype=np.int32).reshape(-1, 2)
        graphs.append(Graph(label_ids.setdefault(label, len(label_ids)), tags,
                            np.concatenate([e[:, 0], e[:, 1]]), np.concatenate([e[:, 1], e[:, 0]])))
    return graphs, len(label_ids), len(tag_ids)


def load(name: str, root: Path | None = None) -> TUDataset:
    """One set, read from its verified file (missing or corrupt: a DataError naming the file and the fetch)."""
    if name not in SETS:
        raise ValueError(f"unknown TU set {name!r}; valid: {', '.join(SETS)}")
    path = rdata.path(REGISTRY, f"{name}.txt", root)
    graphs, n_classes, n_tags = parse(path.read_text(), str(path))
    return TUDataset(name, graphs, n_classes, n_tags)
