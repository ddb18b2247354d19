"""Parallel evaluation: a search's batches go through the executor and give the serial run's history."""

import hashlib
import math
import os

import numpy as np
import pandas as pd
import pytest

from archscore import get_space
from archscore.executor import DaskExecutor, LocalExecutor
from archscore.search import FunctionEvaluator, TabularEvaluator, search
from archscore.search.strategies import Bananas, RandomSearch, RegularizedEvolution

SPACE = get_space("nb201")


def synthetic(arch):
    """A deterministic objective of the cell string; some cells fail (raise) and some give NaN, as training can."""
    s = SPACE.to_string(arch)
    h = int(hashlib.sha1(s.encode()).hexdigest()[:8], 16)
    if h % 11 == 0:
        raise RuntimeError(f"diverged on {s}")
    if h % 13 == 0:
        return {"value": float("nan"), "cost": 0.5}
    conv = s.count("nor_conv_3x3")
    return {"value": 80.0 + 2.0 * conv + (h % 1000) / 1000.0, "report": 70.0 + conv, "cost": 1.0 + conv}


def pid_value(arch):
    """The worker's process id as the report (shows where the evaluation ran)."""
    return {"value": float(len(SPACE.to_string(arch))), "report": float(os.getpid()), "cost": 1.0}


def table(n=250, seed=1):
    rng = np.random.default_rng(seed)
    strings = [SPACE.to_string(a) for a in SPACE.sample(n, seed=seed)]
    value = rng.normal(80, 5, size=n).round(4)
    return pd.DataFrame({"arch": strings, "valid": value, "test": value + 100})


def cheap_bananas(batch_size):
    import archscore

    return Bananas(surrogate=archscore.create_estimator("rf", encoding="onehot", n_estimators=10), n_candidates=20,
                   n_init=6, batch_size=batch_size)


@pytest.mark.parametrize("make", [lambda: RandomSearch(batch_size=4), lambda: RegularizedEvolution(10, 3, batch_size=3),
                                  lambda: cheap_bananas(3)], ids=["random", "rea", "bananas"])
def test_two_workers_give_the_serial_history_including_failures(make):
    ev = FunctionEvaluator(synthetic, space="nb201")
    serial = search("nb201", make(), ev, budget=24, seed=7)
    parallel = search("nb201", make(), ev, budget=24, seed=7, workers=2)
    pd.testing.assert_frame_equal(serial.history, parallel.history)
    h = parallel.history
    errors = h["error"][h["error"] != ""]
    # the failures are recorded as in the serial path: exception text and NaN message, value NaN, counted in the budget
    assert len(h) == 24 and len(errors) > 0, "the seed should hit some failing cells"
    assert all(e.startswith("RuntimeError: diverged on ") or e.startswith("evaluator returned a non-finite value") for e in errors)
    assert h.loc[h["error"] != "", "value"].isna().all()
    assert parallel.best.arch == serial.best.arch and parallel.best.value == serial.best.value


def test_the_batch_really_runs_in_worker_processes():
    res = search("nb201", RandomSearch(batch_size=4), FunctionEvaluator(pid_value, space="nb201"), budget=8, seed=0, workers=2)
    pids = set(res.history["report"].astype(int))
    assert os.getpid() not in pids and len(pids) == 2  # each of the two workers got one of every batch's first items
    serial = search("nb201", RandomSearch(batch_size=4), FunctionEvaluator(pid_value, space="nb201"), budget=8, seed=0)
    assert set(serial.history["report"].astype(int)) == {os.getpid()}
    assert list(serial.history["arch"]) == list(res.history["arch"])


def test_tabular_evaluator_with_workers_and_resume_across_worker_counts(tmp_path):
    ev = TabularEvaluator(table(), target="valid", report="test", space="nb201")
    straight = search("nb201", RandomSearch(batch_size=5), ev, budget=30, seed=3)
    out = tmp_path / "run"
    first = search("nb201", RandomSearch(batch_size=5), ev, budget=12, seed=3, workers=2, out=out)
    pd.testing.assert_frame_equal(first.history, straight.history.iloc[:12].reset_index(drop=True))
    resumed = search("nb201", RandomSearch(batch_size=5), ev, budget=30, seed=3, out=out)  # serial now: same decisions
    pd.testing.assert_frame_equal(resumed.history, straight.history)
    assert list(pd.read_csv(out / "history.csv")["arch"]) == list(straight.history["arch"])


def test_a_worker_that_dies_is_a_recorded_failure_and_the_run_goes_on():
    ev = FunctionEvaluator(_dies_on_first_cell, space="nb201")
    # the first cell seed 2 proposes (a one-query run of the same strategy and seed)
    first = search("nb201", RandomSearch(batch_size=4), FunctionEvaluator(pid_value, space="nb201"), budget=1,
                   seed=2).history["arch"].iat[0]
    os.environ["ARCHSCORE_TEST_DIE_ON"] = first
    try:
        res = search("nb201", RandomSearch(batch_size=4), ev, budget=8, seed=2, executor=LocalExecutor(2, max_retries=1))
    finally:
        del os.environ["ARCHSCORE_TEST_DIE_ON"]
    h = res.history
    assert len(h) == 8 and h["arch"].iat[0] == first
    assert h["error"].iat[0] == "worker died (exit code 3) on 2 tries" and math.isnan(h["value"].iat[0])
    assert (h["error"].iloc[1:] == "").all() and h["value"].iloc[1:].notna().all()


def _dies_on_first_cell(arch):
    if SPACE.to_string(arch) == os.environ.get("ARCHSCORE_TEST_DIE_ON"):
        os._exit(3)  # the worker process dies (as under the kernel's OOM killer)
    return 1.0, 1.0


def test_dask_local_cluster_gives_the_serial_history():
    pytest.importorskip("distributed")
    ev = TabularEvaluator(table(), target="valid", report="test", space="nb201")
    serial = search("nb201", RegularizedEvolution(10, 3, batch_size=4), ev, budget=12, seed=5)
    ex = DaskExecutor(local_workers=2)
    parallel = search("nb201", RegularizedEvolution(10, 3, batch_size=4), ev, budget=12, seed=5, executor=ex)
    pd.testing.assert_frame_equal(serial.history, parallel.history)
    assert ex._session is None  # the cluster the search opened is closed again


def test_bad_parallel_arguments_name_the_problem():
    ev = TabularEvaluator(table(), target="valid", space="nb201")
    for bad in (0, -2, 1.5, True, "2"):
        with pytest.raises(ValueError, match="workers must be a positive integer"):
            search("nb201", "random", ev, budget=2, workers=bad)
    with pytest.raises(ValueError, match="workers= or executor=, not both"):
        search("nb201", "random", ev, budget=2, workers=2, executor=LocalExecutor(2))
    with pytest.raises(TypeError, match="executor must be"):
        search("nb201", "random", ev, budget=2, executor="dask")
