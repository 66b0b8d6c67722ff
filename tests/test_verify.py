"""Verification end to end on hand-made run outputs."""
import json

import pytest

from analysis.verify import MissingRunError, verify, write
from repro import export, runio

BASIS = "{reported: 'paper: T1', tolerance: 'our choice: a test'}"
VALUES = {"s4-no-gate": [18.0, 18.5, 18.2], "s6-no-gate": [96.0, 97.5, 97.0],
          "s4-mamba": [70.0, 71.0, 69.0], "s6-mamba": [99.7, 99.8, 99.9], "h3-s4": [57.0, 56.5, 57.5],
          "h3-hyena": [30.0, 30.5, 29.8], "h3-s6": [99.6, 99.7, 99.8], "mamba-hyena": [28.4, 28.0, 28.8]}


def fake_runs(results, values):
    for exp, vals in values.items():
        for seed, v in zip([0, 1, 2], vals):
            d = runio.run_dir(results, "mamba", exp, "cpu", seed)
            d.mkdir(parents=True)
            (d / "metrics.json").write_text(json.dumps({"accuracy": v, "git_commit": "c0ffee", "git_dirty": "false"}))


def fake_induction_runs(results):
    tested = {"induction-mamba": {2 ** k: 100.0 for k in range(6, 15)},
              "induction-mha-abs": {"x1": 100.0, "x2": 57.0, "x4": 27.0},
              "induction-mha-rope": {"x1": 100.0, "x2": 50.0, "x4": 30.0},
              "induction-mha-xpos": {"x1": 100.0, "x2": 99.0, "x4": 40.0}}
    for exp, accs in tested.items():
        for seed in (0, 1, 2):
            d = runio.run_dir(results, "mamba", exp, "cpu", seed)
            d.mkdir(parents=True)
            m = {f"acc_{n}": a + 0.1 * seed for n, a in accs.items()}
            m["not_run"] = {f"acc_{2 ** k}": "not tested at this scale" for k in range(6, 21) if 2 ** k not in accs}
            m["not_run"].update({f"acc_x{k}": "not tested" for k in (1, 2, 4) if f"x{k}" not in accs})
            (d / "metrics.json").write_text(json.dumps({**m, "git_commit": "c0ffee", "git_dirty": "false"}))
    for exp, b in (("timing-mamba", 1.0), ("timing-mha", 1.8)):
        for seed in (0, 1, 2):
            d = runio.run_dir(results, "mamba", exp, "cpu", seed)
            d.mkdir(parents=True)
            (d / "metrics.json").write_text(json.dumps({"time_exponent": b + 0.01 * seed, "git_commit": "c0ffee",
                                                        "git_dirty": "false"}))


def test_verdicts_from_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "no-tfds-data"))   # MNIST not prepared: S4 runs not run
    fake_runs(tmp_path, VALUES)
    fake_induction_runs(tmp_path)
    report = verify("papers/mamba", "cpu", tmp_path)
    v = {c["id"]: c["verdict"] for c in report["claims"]}
    assert v["selective-copying-s4-no-gate"] == "reproduced"
    assert v["selective-copying-s6-mamba"] == "reproduced"
    assert v["selective-copying-s4-mamba"] == "not reproduced"      # 70 vs 56.4 +- 5
    assert v["selection-matters-more-than-architecture"] == "holds"
    assert v["selective-copying-h3-s6"] == v["selective-copying-hyena-mamba"] == "reproduced"
    assert v["induction-mamba-16384"] == "reproduced" and v["induction-mamba-32768"] == "not run"
    assert v["induction-mha-abs-2x"] == "reproduced" and v["induction-mha-rope-2x"] == "not reproduced"
    assert v["induction-mha-abs-1x"] == "reproduced"
    assert v["induction-mha-xpos-2x"] == "reproduced" and v["induction-mha-xpos-4x"] == "not reproduced"
    assert v["s4-smnist"] == "not run" and "repro.tfds_data prepare mnist" in next(
        c["reason"] for c in report["claims"] if c["id"] == "s4-psmnist")
    assert v["mamba-time-linear-in-length"] == "reproduced" and v["attention-time-superlinear-in-length"] == "holds"
    assert report["runs_git"] == {"c0ffee": "false"} and report["evidence"] is True
    path = write(report, tmp_path)
    saved = json.loads(path.read_text())
    assert saved["claims"][0]["reproduced"]["values"] == {"0": 18.0, "1": 18.5, "2": 18.2}
    assert saved["claims"][0]["values"] == {"s4-no-gate": {"0": 18.0, "1": 18.5, "2": 18.2}}
    order = next(c for c in saved["claims"] if c["id"] == "selection-matters-more-than-architecture")
    assert set(order["values"]) == set(VALUES) - {"h3-hyena", "mamba-hyena"} and order["sequential"]["n_seeds"] == 3
    assert order["target"] == "our choice" and order["rule_status"]["run_commits"] == ["c0ffee"]
    assert saved["claims"][0]["target"] == "paper, our band"
    assert "deviation" in saved["claims"][0] and "scatter region 512" in saved["claims"][0]["deviation"]
    assert (tmp_path / "mamba" / "cpu" / "claims.csv").read_text().count("\n") == 41


def test_missing_run_names_the_file_and_the_command(tmp_path):
    with pytest.raises(MissingRunError) as err:
        verify("papers/mamba", "cpu", tmp_path)
    msg = str(err.value)
    assert "metrics.json is missing" in msg and "snakemake papers/mamba --config scale=cpu" in msg


def test_claims_on_data_that_cannot_be_fetched_are_not_run_with_the_reason(tmp_path):
    paper = tmp_path / "paper"
    paper.mkdir()
    (paper / "config.yaml").write_text(
        "paper: p\nbase: {data: {registry: ''}, train: {steps: 1, log_every: 1}}\n"
        "experiments: {synthetic: {}, pubmed: {data: {registry: planetoid-pubmed}}}\n"
        "scales: {cpu: {seeds: [0, 1]}}\n")
    (paper / "claims.yaml").write_text(
        "paper: {title: T}\nmetrics: {acc: {range: [0, 100]}}\nclaims:\n"
        "  - {id: a, statement: s, source: T1, metric: acc, experiments: [synthetic],"
        f" rule: {{kind: value, reported: 1.0, tolerance: 0.5, basis: {BASIS}}}}}\n"
        "  - {id: b, statement: s, source: T1, metric: acc, experiments: [pubmed],"
        f" rule: {{kind: value, reported: 1.0, tolerance: 0.5, basis: {BASIS}}}}}\n"
        "  - {id: c, statement: s, source: T1, metric: acc,"
        " rule: {kind: ordering, better: [pubmed], worse: [synthetic], margin: 0.0,"
        " basis: {margin: 'direction: T1'}}}\n"
    )
    results = tmp_path / "results"
    for seed in (0, 1):
        d = runio.run_dir(results, "p", "synthetic", "cpu", seed)
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps({"acc": 1.0 + seed * 0.01}))
    report = verify(paper, "cpu", results)
    v = {c["id"]: c for c in report["claims"]}
    assert v["a"]["verdict"] == "reproduced"
    for cid in ("b", "c"):
        assert v[cid]["verdict"] == "not run"
        assert "pubmed: needs data" in v[cid]["reason"] and "--record" in v[cid]["reason"]


def test_a_metric_a_run_could_not_measure_makes_its_claims_not_run_with_the_runs_reason(tmp_path):
    paper = tmp_path / "paper"
    paper.mkdir()
    (paper / "config.yaml").write_text(
        "paper: p\nbase: {train: {steps: 1, log_every: 1}}\nexperiments: {mha: {}}\nscales: {cpu: {seeds: [0, 1, 2]}}\n"
    )
    (paper / "claims.yaml").write_text(
        "paper: {title: T}\nmetrics: {acc_512: {range: [0, 100]}, acc_65536: {range: [0, 100]}}\nclaims:\n"
        "  - {id: short, statement: s, source: T2, metric: acc_512, experiments: [mha],"
        f" rule: {{kind: value, reported: 58.6, tolerance: 5, basis: {BASIS}}}}}\n"
        "  - {id: long, statement: s, source: T2, metric: acc_65536, experiments: [mha],"
        f" rule: {{kind: value, reported: 8.0, tolerance: 5, basis: {BASIS}}}}}\n"
    )
    results = tmp_path / "results"
    for seed, acc in ((0, 58.0), (1, 58.5), (2, 58.2)):
        d = runio.run_dir(results, "p", "mha", "cpu", seed)
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(
            json.dumps({"acc_512": acc, "not_run": {"acc_65536": "attention scores at 65536 tokens need 128 GiB"}})
        )
    report = verify(paper, "cpu", results)
    by_id = {c["id"]: c for c in report["claims"]}
    assert by_id["short"]["verdict"] == "reproduced"
    assert by_id["long"]["verdict"] == "not run" and "128 GiB" in by_id["long"]["reason"]


def test_a_damaged_or_missing_final_parameter_file_stops_the_verdicts_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "no-tfds-data"))
    fake_runs(tmp_path, VALUES)
    fake_induction_runs(tmp_path)
    run = runio.run_dir(tmp_path, "mamba", "s6-mamba", "cpu", 1)
    (run / export.FILENAME).write_bytes(b"weights")
    m = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**m, "final_params_sha256": export.sha256(run / export.FILENAME)}))
    verify("papers/mamba", "cpu", tmp_path)  # intact: fine
    (run / export.FILENAME).write_bytes(b"weightz")
    with pytest.raises(MissingRunError, match=f"{run / export.FILENAME} was modified.*dvc pull"):
        verify("papers/mamba", "cpu", tmp_path)
    (run / export.FILENAME).unlink()
    with pytest.raises(MissingRunError, match="is missing"):
        verify("papers/mamba", "cpu", tmp_path)


def test_curves_for_dvc_plots_one_tidy_file_per_experiment_in_the_scales_folder(tmp_path):
    from analysis import curves

    for seed, losses in ((0, [2.0, 1.0]), (1, [2.5, 0.5])):
        d = runio.run_dir(tmp_path, "mamba", "s6-mamba", "cpu", seed)
        d.mkdir(parents=True)
        runio.write_history(
            d / "history.csv", [{"step": 50 * (i + 1), "train_loss": v, "tok_per_s": 1.0} for i, v in enumerate(losses)]
        )
    d = runio.run_dir(tmp_path, "mamba", "timing-mamba", "cpu", 0)
    d.mkdir(parents=True)
    runio.write_history(d / "history.csv", [{"step": 512, "seconds": 0.1}])  # a measurement: no curve
    written = curves.write(tmp_path, "mamba", "cpu", ["s6-mamba", "timing-mamba"], [0, 1])
    assert written == [tmp_path / "mamba" / "cpu" / "curves" / "s6-mamba.csv"]
    assert written[0].read_text().splitlines() == ["step,seed,loss", "50,0,2", "100,0,1", "50,1,2.5", "100,1,0.5"]
    assert curves.read(written[0]) == {"0": ([50.0, 100.0], [2.0, 1.0]), "1": ([50.0, 100.0], [2.5, 0.5])}
    # an earlier verification's curve of an experiment whose runs now keep none (rebuilt from a per-seed table)
    stale = tmp_path / "mamba" / "cpu" / "curves" / "s4-mamba.csv"
    stale.write_text("step,seed,loss\n50,0,2\n")
    runio.run_dir(tmp_path, "mamba", "s4-mamba", "cpu", 0).mkdir(parents=True)
    assert curves.write(tmp_path, "mamba", "cpu", ["s6-mamba", "s4-mamba"], [0, 1]) == written
    assert not stale.exists()


def test_curves_keep_at_most_max_points_per_seed_first_and_last_included():
    from analysis import curves

    kept = curves.thin(list(range(1000)), 200)
    assert len(kept) == 200 and kept[0] == 0 and kept[-1] == 999 and kept == sorted(set(kept))
    assert curves.thin([1, 2, 3], 200) == [1, 2, 3]


def test_each_claim_records_the_mlflow_runs_behind_its_number(tmp_path, monkeypatch):
    """claims.json leads from a verdict to its training runs (experiment, seed, MLflow run id) and to the claim's own
    run under the verification run; the ids are the store's."""
    from analysis import verify as V
    from repro import tracking

    paper = tmp_path / "paper"
    paper.mkdir()
    (paper / "config.yaml").write_text(
        "paper: p\nbase: {train: {steps: 1, log_every: 1}}\nexperiments: {a: {}, b: {}}\n"
        "scales: {cpu: {seeds: [0, 1]}}\n"
    )
    (paper / "claims.yaml").write_text(
        "paper: {title: T}\nmetrics: {acc: {range: [0, null]}}\nclaims:\n"
        "  - {id: one, statement: s, source: T1, metric: acc, experiments: [a],"
        f" rule: {{kind: value, reported: 1.0, tolerance: 0.5, basis: {BASIS}}}}}\n"
        "  - {id: two, statement: s, source: T1, metric: acc,"
        " rule: {kind: ordering, better: [a], worse: [b], margin: 0.0, basis: {margin: 'direction: T1'}}}\n"
        "  - {id: three, statement: s, source: T1, metric: acc, experiments: [a], not_run: needs a GPU,"
        f" rule: {{kind: value, reported: 1.0, tolerance: 0.5, basis: {BASIS}}}}}\n"
    )
    results = tmp_path / "results"
    monkeypatch.setenv("REPRO_RESULTS", str(results))
    monkeypatch.setenv("REPRO_TRACKING", "on")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for e, base in (("a", 1.0), ("b", 0.5)):
        for seed in (0, 1):
            d = runio.run_dir(results, "p", e, "cpu", seed)
            d.mkdir(parents=True)
            (d / "metrics.json").write_text(json.dumps({"acc": base + seed * 0.01}))
            if (e, seed) != ("b", 1):  # one run was never tracked
                (d / "mlflow_run_id").write_text(f"run-{e}-{seed}\n")
    assert V.main([str(paper), "--scale", "cpu", "--results", str(results)]) == 0
    saved = json.loads((results / "p" / "cpu" / "claims.json").read_text())
    by_id = {c["id"]: c for c in saved["claims"]}
    assert by_id["one"]["runs"] == [
        {"experiment": "a", "seed": 0, "mlflow_run_id": "run-a-0"},
        {"experiment": "a", "seed": 1, "mlflow_run_id": "run-a-1"},
    ]
    assert [(r["experiment"], r["seed"], r["mlflow_run_id"]) for r in by_id["two"]["runs"]] == [
        ("a", 0, "run-a-0"),
        ("a", 1, "run-a-1"),
        ("b", 0, "run-b-0"),
        ("b", 1, None),
    ]
    assert "runs" not in by_id["three"]
    ml = saved["mlflow"]
    assert sorted(ml["claim_run_ids"]) == ["one", "three", "two"]
    client = tracking.client()
    assert client.get_run(ml["claim_run_ids"]["one"]).data.tags["claim"] == "one"
    assert client.get_run(ml["claim_run_ids"]["one"]).data.tags["mlflow.parentRunId"] == ml["verify_run_id"]
    assert client.get_run(ml["verify_run_id"]).info.experiment_id == ml["experiment_id"]
