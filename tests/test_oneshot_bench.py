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
