import pytest

from repro import config as rc

PAPER = "papers/mamba/config.yaml"


def test_resolves_base_scale_experiment_and_overrides_in_order():
    pcfg = rc.load_paper_config(PAPER)
    cfg = rc.resolve(pcfg, "s4-no-gate", "cpu", ["train.steps=100", "model.d_model=32"])
    assert cfg["model"]["layer"] == "s4" and cfg["model"]["kind"] == "no_gate"
    assert cfg["train"]["steps"] == 100 and cfg["model"]["d_model"] == 32
    assert cfg["task"]["seq_len"] == pcfg["scales"]["cpu"]["overrides"]["task"]["seq_len"]
    assert cfg["run"] == {"paper": "mamba", "experiment": "s4-no-gate", "scale": "cpu"}


def test_full_scale_is_the_papers_setting():
    cfg = rc.resolve(rc.load_paper_config(PAPER), "s6-mamba", "full")
    assert (cfg["task"]["seq_len"], cfg["task"]["n_tokens"], cfg["task"]["vocab_size"]) == (4096, 16, 16)
    assert (cfg["model"]["layers"], cfg["model"]["d_model"]) == (2, 64)
    assert (cfg["train"]["steps"], cfg["train"]["lr"], cfg["train"]["batch_size"]) == (400000, 1e-4, 64)


def test_unknown_experiment_lists_the_valid_ones():
    with pytest.raises(
        rc.ConfigError, match="unknown experiment 'nope'.*valid: s4-no-gate, s6-no-gate, s4-mamba, s6-mamba"
    ):
        rc.resolve(rc.load_paper_config(PAPER), "nope", "cpu")


def test_unknown_scale_lists_the_valid_ones():
    with pytest.raises(rc.ConfigError, match="unknown scale 'gpu'.*valid: smoke, cpu, full"):
        rc.resolve(rc.load_paper_config(PAPER), "s6-mamba", "gpu")


def test_unknown_override_key_names_the_valid_keys():
    with pytest.raises(rc.ConfigError, match="unknown config key train.'stepz'.*valid keys here:.*steps"):
        rc.resolve(rc.load_paper_config(PAPER), "s6-mamba", "cpu", ["train.stepz=3"])


def test_override_of_wrong_type_is_refused():
    with pytest.raises(rc.ConfigError, match="train.steps expects int"):
        rc.resolve(rc.load_paper_config(PAPER), "s6-mamba", "cpu", ["train.steps=many"])
    with pytest.raises(rc.ConfigError, match="section.key=value"):
        rc.parse_overrides(["train.steps"])


def test_steps_must_be_a_multiple_of_the_log_interval():
    with pytest.raises(rc.ConfigError, match="multiple of train.log_every"):
        rc.resolve(rc.load_paper_config(PAPER), "s6-mamba", "smoke", ["train.steps=25"])


def test_malformed_paper_config(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("paper: x\nbase: {}\nexperiments: {}\nscales: {cpu: {seeds: []}}\n")
    with pytest.raises(rc.ConfigError, match="scales.cpu.seeds must be a non-empty list"):
        rc.load_paper_config(bad)
    with pytest.raises(rc.ConfigError, match="file not found"):
        rc.load_paper_config(tmp_path / "missing.yaml")
    # a misspelt scale key would otherwise be ignored: the scale would run with its settings silently dropped
    bad.write_text("paper: x\nbase: {}\nexperiments: {}\nscales: {cpu: {seeds: [0], overides: {}}}\n")
    with pytest.raises(rc.ConfigError, match="scales.cpu has unknown key 'overides'; valid: seeds, overrides"):
        rc.load_paper_config(bad)
    bad.write_text("paper: x\nbase: {}\nexperiments: {a: {}}\nscales: {cpu: {seeds: [0], skip: {a: ''}}}\n")
    with pytest.raises(rc.ConfigError, match="scales.cpu.skip.a must say why it is not trained at this scale"):
        rc.load_paper_config(bad)
    bad.write_text("paper: x\nbase: {}\nexperiments: {a: {}}\nscales: {cpu: {seeds: [0], skip: {b: why}}}\n")
    with pytest.raises(rc.ConfigError, match="scales.cpu.skip names unknown experiment 'b'; valid: a"):
        rc.load_paper_config(bad)


def test_a_skipped_experiment_is_blocked_with_its_reason():
    from repro.availability import blocked_experiments
    pcfg = rc.load_paper_config(PAPER)
    smoke = blocked_experiments(pcfg, "smoke")
    assert "h3-s6" in smoke and smoke["h3-s6"].startswith("not trained at the smoke scale: the smoke scale trains")
    assert "h3-hyena" not in smoke and "h3-s6" not in blocked_experiments(pcfg, "cpu")


def test_config_hash_is_stable_and_sensitive():
    pcfg = rc.load_paper_config(PAPER)
    a = rc.config_hash(rc.resolve(pcfg, "s6-mamba", "cpu"))
    assert a == rc.config_hash(rc.resolve(pcfg, "s6-mamba", "cpu"))
    assert a != rc.config_hash(rc.resolve(pcfg, "s6-mamba", "cpu", ["train.lr=0.01"]))


def test_a_scale_overrides_an_experiment_and_set_overrides_both(tmp_path):
    p = tmp_path / "config.yaml"
    p.write_text(
        "paper: x\nbase: {train: {steps: 100, log_every: 10}}\n"
        "experiments: {long: {train: {steps: 1000}}, plain: {}}\n"
        "scales: {smoke: {seeds: [0], overrides: {train: {steps: 20}}}, full: {seeds: [0]}}\n"
    )
    pcfg = rc.load_paper_config(p)
    assert rc.resolve(pcfg, "long", "full")["train"]["steps"] == 1000
    assert rc.resolve(pcfg, "long", "smoke")["train"]["steps"] == 20
    assert rc.resolve(pcfg, "plain", "full")["train"]["steps"] == 100
    assert rc.resolve(pcfg, "long", "smoke", ["train.steps=30"])["train"]["steps"] == 30


def test_a_scale_can_set_one_experiments_values_after_its_global_overrides(tmp_path):
    p = tmp_path / "config.yaml"
    p.write_text(
        "paper: x\nbase: {train: {steps: 100, log_every: 10, lr: 0.1}}\n"
        "experiments: {copy: {}, induction: {train: {lr: 0.001}}}\n"
        "scales: {cpu: {seeds: [0], overrides: {train: {steps: 50, lr: 0.002}},"
        " experiments: {induction: {train: {lr: 0.001, steps: 300}}}}}\n"
    )
    pcfg = rc.load_paper_config(p)
    assert rc.resolve(pcfg, "copy", "cpu")["train"] == {"steps": 50, "log_every": 10, "lr": 0.002}
    assert rc.resolve(pcfg, "induction", "cpu")["train"] == {"steps": 300, "log_every": 10, "lr": 0.001}
    assert rc.resolve(pcfg, "induction", "cpu", ["train.steps=20"])["train"]["steps"] == 20
    p.write_text(p.read_text().replace("experiments: {induction: {train", "experiments: {inductoin: {train"))
    with pytest.raises(rc.ConfigError, match="inductoin"):
        rc.load_paper_config(p)


def test_scientific_notation_without_a_dot_is_a_number():
    # YAML 1.1 reads "2e-4" as a string; on the command line everyone writes it so
    assert rc.parse_overrides(["train.lr=2e-4", "train.lr2=1E3", "x.name=e5"]) == {
        "train": {"lr": 2e-4, "lr2": 1000.0},
        "x": {"name": "e5"},
    }
    assert rc.resolve(rc.load_paper_config(PAPER), "s6-mamba", "cpu", ["train.lr=5e-4"])["train"]["lr"] == 5e-4


def test_show_prints_the_resolved_config_and_its_hash(capsys):
    assert rc.main(["show", "papers/gnn", "gcn-cora", "--scale", "cpu", "--set", "train.lr=0.02"]) == 0
    out = capsys.readouterr().out
    cfg = rc.resolve(rc.load_paper_config("papers/gnn/config.yaml"), "gcn-cora", "cpu", ["train.lr=0.02"])
    assert "lr: 0.02" in out and f"config hash {rc.config_hash(cfg)}" in out
    assert rc.main(["show", "papers/gnn", "gcn-kora"]) == 2
    assert "unknown experiment 'gcn-kora'" in capsys.readouterr().err
