"""Typed configs (repro/schema.py, papers/<p>/schema.py): every experiment of every paper fits its schema at every
scale, and a bad value, an unknown key or a wrong type is refused when the config is resolved, before any job."""
import shutil
from pathlib import Path

import pytest

from repro import config as rc
from repro import preflight

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("paper", preflight.papers())
def test_every_experiment_fits_the_papers_schema_at_every_scale(paper):
    assert (REPO / "papers" / paper / "schema.py").exists(), f"papers/{paper} has no schema.py (CONTRIBUTING.md)"
    pcfg = rc.load_paper_config(REPO / "papers" / paper / "config.yaml")
    for scale in pcfg["scales"]:
        for experiment in pcfg["experiments"]:
            rc.resolve(pcfg, experiment, scale)           # raises ConfigError on any misfit


@pytest.mark.parametrize("setting,named", [
    ("model.kind=transformerz", "model.kind: input should be 'mamba', 'no_gate', 'h3', 'attention' or 's4_classifier'"),
    ("train.lr=-0.1", "train.lr: input should be greater than 0"),
    ("model.dropout=1.5", "model.dropout: input should be less than or equal to 1"),
    ("task.test_lengths=[64,0]", "task.test_lengths.1: input should be greater than 0"),
])
def test_a_bad_value_is_refused_with_its_key(setting, named):
    pcfg = rc.load_paper_config(REPO / "papers/mamba/config.yaml")
    with pytest.raises(rc.ConfigError) as err:
        rc.resolve(pcfg, "s6-mamba", "smoke", [setting])
    assert named in str(err.value) and "schema.py" in str(err.value)


def test_unknown_keys_and_wrong_types_are_refused():
    pcfg = rc.load_paper_config(REPO / "papers/gnn/config.yaml")
    with pytest.raises(rc.ConfigError, match="unknown config key model.'depth'"):
        rc.resolve(pcfg, "gcn-cora", "smoke", ["model.depth=3"])
    with pytest.raises(rc.ConfigError, match="train.steps expects int"):
        rc.resolve(pcfg, "gcn-cora", "smoke", ["train.steps=ten"])


def test_a_config_yaml_that_breaks_the_schema_is_refused_at_plan_time(tmp_path):
    """An experiment in config.yaml with a value its schema forbids stops the workflow's preflight (one message
    naming the key), before any job starts."""
    paper = tmp_path / "papers" / "gnn"
    shutil.copytree(REPO / "papers" / "gnn", paper, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    text = (paper / "config.yaml").read_text().replace("stop: gcn              # gcn | gat | none",
                                                       "stop: early            # gcn | gat | none")
    (paper / "config.yaml").write_text(text)
    pcfg = rc.load_paper_config(paper / "config.yaml")
    with pytest.raises(preflight.PreflightError, match="train.stop: input should be 'gcn', 'gat' or 'none'"):
        preflight.check_paper(paper, "smoke", [], list(pcfg["experiments"]))
