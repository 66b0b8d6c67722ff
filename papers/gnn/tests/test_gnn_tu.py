"""The TU reader (GIN's text format) on the real files of the mirror, on hand-made text, and its failure messages."""
import shutil
from pathlib import Path

import pytest

from papers.gnn import tu
from repro import data

MIRROR = Path(__file__).resolve().parents[4] / "shared" / "data"
on_mirror = pytest.mark.skipif(not MIRROR.exists(), reason="the offline mirror ../shared/data is not present")

# graphs, classes, node tags (GIN Table 1 and the TU benchmark's statistics)
COUNTS = {"MUTAG": (188, 2, 7), "PTC": (344, 2, 19), "NCI1": (4110, 2, 37), "PROTEINS": (1113, 2, 3),
          "IMDBBINARY": (1000, 2, 1), "IMDBMULTI": (1500, 3, 1)}


@on_mirror
@pytest.mark.parametrize("name", tu.SETS)
def test_the_real_files_have_gins_counts(name):
    d = tu.load(name, MIRROR)
    assert (len(d.graphs), d.n_classes, d.n_tags) == COUNTS[name]
    assert sorted(set(d.labels.tolist())) == list(range(d.n_classes))
    g = d.graphs[0]
    assert len(g.senders) % 2 == 0 and not (g.senders == g.receivers).any()
    pairs = set(zip(g.senders.tolist(), g.receivers.tolist()))
    assert all((b, a) in pairs for a, b in pairs)                      # undirected: both directions, once each


@on_mirror
def test_mutag_first_graph_and_the_degree_features_of_imdb():
    mutag = tu.load("MUTAG", MIRROR)
    g = mutag.graphs[0]      # the file: `23 2`, node 0 is `2 2 1 13`; its 23 node lines list 54 neighbours
    assert g.n_nodes == 23 and len(g.senders) == 54 and g.label == 0
    assert {1, 13} == set(g.receivers[g.senders == 0].tolist())
    feats = mutag.features()
    assert feats[0].shape == (23, 7) and (feats[0].sum(1) == 1).all()
    imdb = tu.load("IMDBBINARY", MIRROR)
    x = imdb.features()                  # no tags: one-hot degree (GIN --degree_as_tag)
    assert x[0].shape[1] == x[1].shape[1] > 1 and (x[0].sum(1) == 1).all()
    degrees = sorted({int(d) for gr in imdb.graphs for d in gr.degrees})
    assert x[0].shape[1] == len(degrees)
    assert (x[0].argmax(1) == [degrees.index(d) for d in imdb.graphs[0].degrees]).all()


def test_labels_and_tags_are_numbered_in_order_of_first_appearance_and_edges_deduplicated():
    text = "2\n3 5\n7 1 1\n9 2 0 2\n7 1 1\n2 -1\n9 1 1\n9 1 0\n"
    graphs, n_classes, n_tags = tu.parse(text)
    assert (n_classes, n_tags) == (2, 2)
    assert [g.label for g in graphs] == [0, 1] and graphs[0].tags.tolist() == [0, 1, 0]
    assert sorted(zip(graphs[0].senders.tolist(), graphs[0].receivers.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1)]
    assert graphs[0].degrees.tolist() == [1, 2, 1] and len(graphs[1].senders) == 2


@pytest.mark.parametrize("text,message", [
    ("2\n1 0\n0 0\n", "ended at line 3 while reading a graph"),
    ("1\n2 0\n0 1 5\n0 0\n", "line 3: neighbour 5 outside the graph's 2 nodes"),
    ("1\n2 0\n0 3 1\n0 0\n", "line 3: a node line is `tag m` and m neighbours"),
    ("x\n", "line 1: the number of graphs must be numbers"),
])
def test_malformed_text_names_the_line(text, message):
    with pytest.raises(tu.FormatError, match=message):
        tu.parse(text, "T.txt")


def test_a_missing_or_corrupt_file_names_it_and_the_fetch(tmp_path):
    with pytest.raises(data.DataError, match="MUTAG.txt is missing: fetch it with `python -m repro.data fetch tu"):
        tu.load("MUTAG", tmp_path)
    if MIRROR.exists():
        (tmp_path / "tu").mkdir()
        shutil.copy(MIRROR / "tu" / "MUTAG.txt", tmp_path / "tu" / "MUTAG.txt")
        with open(tmp_path / "tu" / "MUTAG.txt", "a") as fh:
            fh.write("\n")
        with pytest.raises(data.DataError, match="is corrupt"):
            tu.load("MUTAG", tmp_path)
    with pytest.raises(ValueError, match="unknown TU set 'COLLAB'"):
        tu.load("COLLAB", tmp_path)


def test_each_set_is_fetched_from_its_own_folder_at_the_canonical_url():
    ent = data.entry("tu")
    assert data.url(ent, "NCI1.txt") == \
        "https://raw.githubusercontent.com/muhanzhang/pytorch_DGCNN/master/data/NCI1/NCI1.txt"
    assert data.url(data.entry("planetoid"), "ind.cora.x").endswith("/data/ind.cora.x")   # default: base_url + file
