"""Run records (repro/share.py record / restore-record): a finished run's small files committed under
results/<p>/<scale>/runs/, so a long run that spans sessions or machines without a DVC remote loses nothing it
finished; restored runs are judged like any other and say that they were restored."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import toy_paper
from analysis import verify
from repro import export, share
from toy_paper import run, verdicts


def fake_run(results, experiment, scale, seed, score=1.0, finished=True):
    d = results / "p" / "runs" / experiment / scale / f"seed{seed}"
    (d / "checkpoints" / "500").mkdir(parents=True)
    (d / "checkpoints" / "500" / "state").write_bytes(b"orbax")
    (d / "config.yaml").write_text(f"seed: {seed}\n")
    (d / "mlflow_run_id").write_text("abc\n")
    if finished:
        (d / export.FILENAME).write_bytes(b"params")
        (d / "history.csv").write_text("step,loss\n1,0.5\n")
        (d / "metrics.json").write_text(json.dumps({"score": score, "final_params_sha256": "f" * 64}))
    return d


def test_record_keeps_the_finished_runs_small_files_and_only_those(tmp_path):
    fake_run(tmp_path, "a", "cpu", 0)
    fake_run(tmp_path, "a", "cpu", 1, finished=False)      # still training: nothing to record yet
    fake_run(tmp_path, "a", "smoke", 0)                    # another scale
    assert share.record(tmp_path, "p", "cpu") == 1
    rec = tmp_path / "p" / "cpu" / "runs" / "a" / "seed0"
    assert sorted(f.name for f in rec.iterdir()) == ["config.yaml", "history.csv", "metrics.json", "mlflow_run_id",
                                                     share.MTIMES]
    assert not (tmp_path / "p" / "cpu" / "runs" / "a" / "seed1").exists()
    assert not (tmp_path / "p" / "smoke" / "runs").exists()
    assert share.record(tmp_path, "p", "cpu") == 0         # unchanged: nothing rewritten
    (tmp_path / "p/runs/a/cpu/seed0/metrics.json").write_text(json.dumps({"score": 2.0}))   # trained again
    assert share.record(tmp_path, "p", "cpu") == 1
    assert json.loads((rec / "metrics.json").read_text()) == {"score": 2.0}


def test_restore_brings_back_missing_runs_and_never_touches_a_finished_one(tmp_path):
    fake_run(tmp_path, "a", "cpu", 0, score=1.0)
    fake_run(tmp_path, "a", "cpu", 1, score=2.0)
    fake_run(tmp_path, "b", "cpu", 0, score=3.0)
    written = 1_700_000_000_000_000_000
    os.utime(tmp_path / "p/runs/a/cpu/seed0/metrics.json", ns=(written, written))
    share.record(tmp_path, "p", "cpu")
    runs = tmp_path / "p" / "runs"
    shutil.rmtree(runs / "a")                                           # lost with its machine
    (runs / "b/cpu/seed0/metrics.json").write_text('{"score": 9.0}')   # a finished run here wins over its record
    fake_run(tmp_path, "a", "cpu", 1, finished=False)                  # half-trained again: completed from the record
    assert share.restore_record(tmp_path, "p", "cpu") == 2
    for seed, score in ((0, 1.0), (1, 2.0)):
        d = runs / "a" / "cpu" / f"seed{seed}"
        assert json.loads((d / "metrics.json").read_text())["score"] == score
        assert (d / share.RESTORED).exists() and not (d / export.FILENAME).exists()
    assert (runs / "a/cpu/seed1/checkpoints/500/state").exists()
    assert (runs / "a/cpu/seed0/metrics.json").stat().st_mtime_ns == written   # when it was trained, not restored
    assert not (runs / "a/cpu/seed0" / share.MTIMES).exists()
    assert json.loads((runs / "b/cpu/seed0/metrics.json").read_text()) == {"score": 9.0}
    assert not (runs / "b/cpu/seed0" / share.RESTORED).exists()
    assert share.restore_record(tmp_path, "p", "cpu") == 0
    assert share.restore_record(tmp_path, "p", "full") == 0            # no records at that scale


def test_verification_skips_the_missing_parameters_only_of_a_restored_run(tmp_path):
    d = fake_run(tmp_path, "a", "cpu", 0)
    (d / export.FILENAME).unlink()
    m = json.loads((d / "metrics.json").read_text())
    with pytest.raises(verify.MissingRunError, match="final_params.msgpack is missing"):
        verify.check_final_params(d, m)
    (d / share.RESTORED).write_text("record\n")
    verify.check_final_params(d, m)
    got = verify.run_provenance(tmp_path, "p", "cpu", ["a"], [0])
    assert got["runs_provenance"]["restored_from_record"] == 1


def share_cli(toy, *args):
    r = subprocess.run([sys.executable, "-m", "repro.share", *args], cwd=toy, env=toy_paper.env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def metrics_digests(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / "results/toy/runs").glob("*/cpu/seed*/metrics.json"))}


@pytest.mark.workflow
def test_a_run_lost_with_its_machine_comes_back_from_its_records_and_is_not_trained_again(tmp_path):
    toy = toy_paper.make(tmp_path)
    r = run(toy, *verdicts("cpu"))
    assert r.returncode == 0, r.stderr[-3000:]
    before = json.loads((toy / "results/toy/cpu/claims.json").read_text())
    digests = metrics_digests(toy)
    assert f"{len(digests)} run records written" in share_cli(toy, "record", "toy", "--scale", "cpu")
    # the next session's fresh checkout: the records (committed) and the verdicts, no runs, no Snakemake state
    for p in ("results/toy/runs", "results/toy/plan", ".snakemake"):
        shutil.rmtree(toy / p)
    (toy / "results/toy/cpu/.verified").unlink()
    assert f"{len(digests)} finished runs restored" in share_cli(toy, "restore-record", "toy", "--scale", "cpu")
    r = run(toy, *verdicts("cpu"), TOY_FAIL_AT_SEED="0")        # a seed trained again would fail
    assert r.returncode == 0, r.stderr[-3000:]
    assert metrics_digests(toy) == digests
    after = json.loads((toy / "results/toy/cpu/claims.json").read_text())
    assert [(c["id"], c["verdict"], c.get("reproduced")) for c in after["claims"]] == \
        [(c["id"], c["verdict"], c.get("reproduced")) for c in before["claims"]]
    assert after["runs_provenance"]["restored_from_record"] == len(digests)


def test_the_dashboard_says_how_many_runs_came_back_from_their_records():
    from analysis import dashboard
    rep = {"runs_git": {"abc": "false"}, "runs_provenance": {"machines": ["m"], "restored_from_record": 7},
           "verified": {"date": "d", "machine": "m"}, "git_commit": "abc"}
    assert "7 runs restored from their committed records" in dashboard.provenance_html(rep)
    del rep["runs_provenance"]["restored_from_record"]
    assert "restored" not in dashboard.provenance_html(rep)


def test_the_readme_table_says_how_many_runs_came_back_from_their_records():
    from analysis import readme_table
    rep = {"runs_provenance": {"machines": ["2 cores, Intel"], "restored_from_record": 3}}
    assert readme_table.machine(rep) == ("runs trained on 2 cores, Intel; 3 runs restored from their committed "
                                         "records (`results/<p>/<scale>/runs/`)")
    assert readme_table.machine({"runs_provenance": {"machines": ["m"]}}) == "runs trained on m"


def test_runs_lost_with_their_directories_are_rebuilt_from_the_committed_per_seed_table(tmp_path, monkeypatch):
    from analysis import run_table
    from repro import records_from_table as rft
    lost = tmp_path / "lost"
    fake_run(lost, "a", "cpu", 0, score=41.90673828125)
    m = json.loads((lost / "p/runs/a/cpu/seed0/metrics.json").read_text())
    m.update(git_commit="0123456789abcdef", git_dirty="false", config_hash="h1", steps=4000, wall_time_s=370.45,
             n_params=45216)
    (lost / "p/runs/a/cpu/seed0/metrics.json").write_text(json.dumps(m))
    written = 1_764_000_000 * 10 ** 9
    os.utime(lost / "p/runs/a/cpu/seed0/metrics.json", ns=(written, written))
    fake_run(lost, "b", "cpu", 3, score=7.0)
    table = tmp_path / "per-seed.csv"
    table.write_text(run_table.to_csv(run_table.rows(lost, "p", "cpu")))

    results = tmp_path / "results"
    fake_run(results, "b", "cpu", 3, score=8.0)                # trained again since: its own record is kept
    share.record(results, "p", "cpu")
    assert rft.rebuild(results, "p", "cpu", table, tmp_path) == 1
    rec = results / "p/cpu/runs/a/seed0"
    got = json.loads((rec / "metrics.json").read_text())
    assert got == {"paper": "p", "scale": "cpu", "experiment": "a", "seed": 0, "score": 41.906738,
                   "config_hash": "h1", "git_dirty": "false", "git_commit": "0123456789", "steps": 4000,
                   "wall_time_s": 370.4, "n_params": 45216}
    assert json.loads((rec / share.RECONSTRUCTED).read_text())["precision"].startswith("six decimals")
    assert json.loads((results / "p/cpu/runs/b/seed3/metrics.json").read_text())["score"] == 8.0
    assert rft.rebuild(results, "p", "cpu", table, tmp_path, replace=True) == 2

    shutil.rmtree(results / "p/runs")
    assert share.restore_record(results, "p", "cpu") == 2
    run = results / "p/runs/a/cpu/seed0"
    assert (run / share.RECONSTRUCTED).exists() and (run / share.RESTORED).exists()
    assert (run / "metrics.json").stat().st_mtime_ns == written         # the looks' times survive the rebuild
    assert run_table.rows(results, "p", "cpu")[0]["metrics_written_utc"] == \
        run_table.rows(lost, "p", "cpu")[0]["metrics_written_utc"]
    got = verify.run_provenance(results, "p", "cpu", ["a"], [0])
    assert got["runs_provenance"]["reconstructed_from_table"] == 1
    assert got["runs_git"] == {"0123456789": "false"}


def test_rebuilding_from_a_missing_table_names_it(tmp_path, capsys):
    from repro import records_from_table as rft
    assert rft.main(["p", "--table", str(tmp_path / "nope.csv"), "--results", str(tmp_path)]) == 2
    assert "nope.csv does not exist" in capsys.readouterr().err


def test_a_restored_run_is_not_trained_again_because_a_killed_job_marked_it_incomplete(tmp_path, monkeypatch):
    """A workflow killed while a job trained a seed leaves Snakemake's "incomplete" mark on that seed's metrics.json;
    restoring the run from its record must clear it, or the next workflow deletes the restored file and trains again
    (seen on the Mamba final run, 2026-12-05)."""
    import types

    from snakemake.persistence.file import FilePersistence
    monkeypatch.chdir(tmp_path)
    fake_run(tmp_path / "results", "a", "cpu", 2)
    share.record(Path("results"), "p", "cpu")
    shutil.rmtree(tmp_path / "results/p/runs")
    incomplete = tmp_path / ".snakemake" / "incomplete"
    fake = types.SimpleNamespace(_fetch_max_len=lambda subject: 255)
    mark = Path(FilePersistence._record_path(fake, str(incomplete), "results/p/runs/a/cpu/seed2/metrics.json"))
    mark.parent.mkdir(parents=True)
    mark.write_text("{}")
    other = Path(FilePersistence._record_path(fake, str(incomplete), "results/p/runs/a/cpu/seed3/metrics.json"))
    other.write_text("{}")
    assert share.restore_record(Path("results"), "p", "cpu") == 1
    assert not mark.exists() and other.exists()          # only the restored run's mark goes


def test_a_rebuilt_run_is_finished_for_the_driver_and_a_run_trained_again_loses_its_restored_marks(tmp_path):
    from repro import config as rconfig
    from repro import driver
    from repro.checkpoint import CheckpointError
    cfg = {"train": {"steps": 1}, "model": {"d": 1}}
    run = tmp_path / "seed0"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"score": 1.0, "config_hash": rconfig.config_hash(cfg)}))
    (run / share.RECONSTRUCTED).write_text("{}")
    assert driver._open(tmp_path, cfg, 0, run, track=False) == {"score": 1.0, "config_hash": rconfig.config_hash(cfg)}
    assert not (run / "config.yaml").exists()                    # nothing trained, nothing written
    (run / "metrics.json").write_text(json.dumps({"score": 1.0, "config_hash": "another"}))
    with pytest.raises(CheckpointError, match="another config"):
        driver._open(tmp_path, cfg, 0, run, track=False)
    (run / "metrics.json").unlink()                              # e.g. Snakemake forced the job: trained again
    (run / share.RESTORED).write_text("record\n")
    driver._open(tmp_path, cfg, 0, run, track=False)
    assert (run / "config.yaml").exists()
    assert not (run / share.RESTORED).exists() and not (run / share.RECONSTRUCTED).exists()


def test_a_record_replaced_keeps_no_file_the_run_no_longer_has(tmp_path):
    fake_run(tmp_path, "a", "cpu", 0)
    rec = tmp_path / "p/cpu/runs/a/seed0"
    rec.mkdir(parents=True)
    (rec / share.RECONSTRUCTED).write_text("{}")                 # a rebuilt record, then the run trained again
    (rec / "metrics.json").write_text("{}")
    assert share.record(tmp_path, "p", "cpu") == 1
    assert not (rec / share.RECONSTRUCTED).exists() and (rec / "history.csv").exists()
