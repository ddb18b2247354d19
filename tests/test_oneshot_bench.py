"""The one-shot benchmark's helpers (the full run is a benchmark, not a unit test)."""

from __future__ import annotations

import argparse

import numpy as np

from archscore.bench import oneshot as bench


def test_log_rank_average_by_hand():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])
    got = bench._combine(a, b)
    # normalised ranks a: 1/3, 2/3, 1 and b: 1, 2/3, 1/3
    np.testing.assert_allclose(got, [np.log(1 / 3) / 2, np.log(2 / 3), np.log(1 / 3) / 2])
    np.testing.assert_allclose(bench._combine(a), np.log([1 / 3, 2 / 3, 1.0]))


def test_run_without_data_is_an_error(monkeypatch, tmp_path):
    monkeypatch.delenv("ARCHSCORE_DATA", raising=False)
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    args = p.parse_args(["--out", str(tmp_path / "out")])
    assert args.minutes == [10.0, 30.0, 60.0] and args.darts_seeds == [0, 1, 2]
    assert bench.run(args) == 2
    assert not (tmp_path / "out").exists()


def test_new_options_defaults():
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    args = p.parse_args([])
    assert args.darts_fixes == ["darts-", "drnas"] and args.enas_budget == 100
    assert p.parse_args(["--darts-fixes"]).darts_fixes == []  # plain DARTS only


def _spos_rows(spos_5min: float, combo_5min: float) -> dict:
    rows = [{"method": "params", "minutes": None, "kendall": 0.0, "spearman": 0.6},
            {"method": "params+ref proxies (log-rank avg)", "minutes": None, "kendall": 0.0, "spearman": 0.8},
            {"method": "zc:ensemble (meco, jacov, synflow, flops)", "minutes": None, "kendall": 0.0, "spearman": 0.8}]
    for minutes, sp, combo in ((2.0, 0.9, 0.9), (5.0, spos_5min, combo_5min)):
        rows += [{"method": "spos (accuracy)", "minutes": minutes, "kendall": 0.0, "spearman": sp},
                 {"method": "spos (-loss)", "minutes": minutes, "kendall": 0.0, "spearman": 0.99},
                 {"method": "spos(-loss)+zc:ensemble proxies", "minutes": minutes, "kendall": 0.0, "spearman": 0.99},
                 {"method": "spos(accuracy)+zc:ensemble proxies", "minutes": minutes, "kendall": 0.0, "spearman": combo}]
    return {"n_cells": 200, "rows": rows, "runs": [{"minutes": 2.0}, {"minutes": 5.0}]}


def test_checks_use_the_largest_budget_and_the_worst_seed_of_each_fix():
    darts = {"runs": [{"fix": "none", "skips": 6}, {"fix": "darts-", "skips": 2}, {"fix": "darts-", "skips": 6},
                      {"fix": "drnas", "skips": 1}]}
    checks = bench._checks(_spos_rows(0.5, 0.85), darts)
    got = {c["check"]: (c["value"], c["threshold"], c["passed"]) for c in checks}
    assert got == {
        "SPOS (accuracy) Spearman > params' (5 min)": (0.5, 0.6, False),  # 2 min beat params, but the largest budget decides
        "SPOS+zc:ensemble proxies Spearman > zc:ensemble's (5 min)": (0.85, 0.8, True),
        "DARTS with darts-: no found cell made only of skip connections (max skips over seeds)": (6.0, 6.0, False),
        "DARTS with drnas: no found cell made only of skip connections (max skips over seeds)": (1.0, 6.0, True),
    }  # plain DARTS is reported, never checked
    assert bench._checks(None, None) == []


def test_jobs_below_one_is_an_error(tmp_path):
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    args = p.parse_args(["--data", str(tmp_path), "--out", str(tmp_path / "out"), "--jobs", "0"])
    assert bench.run(args) == 2


def test_darts_runs_cover_every_seed_and_fix_in_order():
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    args = p.parse_args(["--darts-seeds", "3", "1", "--darts-fixes", "drnas"])
    assert bench._darts_runs(args) == [(3, None), (3, "drnas"), (1, None), (1, "drnas")]
    assert bench._darts_runs(p.parse_args(["--darts-seeds"])) == []


def test_jobs_run_in_worker_processes_and_come_back_in_the_runs_order(monkeypatch, tmp_path):
    import os

    # Fakes stand in for the training, the proxies and DARTS; the executor forks, so the workers see them.
    monkeypatch.setattr(bench, "_train_spos_job", lambda args, images, minutes: os.getpid())
    monkeypatch.setattr(bench, "_ref_cells", lambda args, data_dir: (None, ["a", "b"]))
    monkeypatch.setattr(bench, "_zc_scores", lambda archs, images: {"meco": np.arange(len(archs)), "pid": os.getpid()})
    monkeypatch.setattr(bench, "_darts_job", lambda args, data_dir, images, seed, fix: {"seed": seed, "fix": fix or "none"})
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    args = p.parse_args(["--jobs", "2", "--minutes", "1", "2", "--darts-seeds", "0", "1", "--darts-fixes", "drnas"])
    zc, darts = bench._run_jobs(args, tmp_path, tmp_path / "images.npz", spos_wanted=True)
    assert [(r["seed"], r["fix"]) for r in darts] == [(0, "none"), (0, "drnas"), (1, "none"), (1, "drnas")]
    np.testing.assert_array_equal(zc["meco"], [0, 1])
    assert zc["pid"] != os.getpid()  # computed in a worker process
    zc, darts = bench._run_jobs(args, tmp_path, tmp_path / "images.npz", spos_wanted=False)
    assert zc is None and len(darts) == 4


def test_a_failed_job_stops_the_benchmark_with_its_error(monkeypatch, tmp_path):
    import pytest

    def boom(args, data_dir, images, seed, fix):
        raise ValueError("no such image file")

    monkeypatch.setattr(bench, "_darts_job", boom)
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    args = p.parse_args(["--jobs", "2", "--darts-seeds", "0", "--darts-fixes"])
    with pytest.raises(RuntimeError, match=r"job \('darts', 0, None\) failed: ValueError: no such image file"):
        bench._run_jobs(args, tmp_path, tmp_path / "images.npz", spos_wanted=False)


def test_a_finished_darts_run_is_reused_and_other_settings_are_not(monkeypatch, tmp_path):
    import json

    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    args = p.parse_args(["--out", str(tmp_path), "--darts-epochs", "7"])
    images = tmp_path / "train5k.npz"
    _, path = bench._darts_settings(args, images, 0, "drnas")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"seed": 0, "fix": "drnas", "cell": "kept"}))
    assert bench._darts_job(args, tmp_path, images, 0, "drnas")["cell"] == "kept"  # no training: the data folder is empty
    # another seed, fix or setting has its own file
    others = {bench._darts_settings(args, images, 1, "drnas")[1], bench._darts_settings(args, images, 0, None)[1],
              bench._darts_settings(p.parse_args(["--out", str(tmp_path), "--darts-epochs", "8"]), images, 0, "drnas")[1]}
    assert path not in others and len(others) == 3


def test_supernets_train_on_the_tarball_when_the_data_folder_has_it(tmp_path):
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    args = p.parse_args(["--darts-epochs", "7"])
    images = bench._resolve_images(args, tmp_path)
    assert images == tmp_path / "cifar10" / "train5k.npz" and args.train_images is None and args.eval_size is None
    assert bench._train_images(args, images) == images and bench._darts_settings(args, images, 0, None)[0]["data_path"] == str(images)
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar10-jpg.tar.gz").write_bytes(b"")
    args = p.parse_args(["--eval-size", "0"])
    assert bench._resolve_images(args, tmp_path) == images  # the proxies keep the reference batch's file
    tar = tmp_path / "cifar10" / "cifar10-jpg.tar.gz"
    assert args.train_images == tar and args.eval_size is None
    assert bench._darts_settings(args, images, 0, None)[0]["data_path"] == str(tar)
    assert bench._spos_estimator(args, images, 1.0).data_path == str(tar)
    own = p.parse_args(["--train-images", str(tmp_path / "mine.npz")])
    bench._resolve_images(own, tmp_path)
    assert own.train_images == tmp_path / "mine.npz"
