"""Executors: every item comes back exactly once; errors, dying workers and time limits become outcomes."""

import os
import subprocess
import sys
import time

import pytest

from archscore.executor import DaskExecutor, LocalExecutor, make_executor


class Task:
    """Squares ints; "boom" raises; "die:<file>" kills its worker the first time (file marks it); "sleep" hangs."""

    def __init__(self):
        self.ready = False

    def setup(self):
        self.ready = True

    def __call__(self, item):
        if item == "boom":
            raise RuntimeError("bad candidate")
        if item == "sleep":
            time.sleep(60)
        if isinstance(item, str) and item.startswith("die:"):
            marker = item[4:]
            if not os.path.exists(marker):
                open(marker, "w").close()
                os._exit(9)
            return "survived"
        if item == "always-die":
            os._exit(3)
        assert self.ready, "setup() ran before the first item"
        return item * item


def test_local_every_item_once_with_errors_deaths_and_timeouts(tmp_path):
    items = [(i, i) for i in range(8)] + [("b", "boom"), ("d", f"die:{tmp_path / 'm'}"), ("s", "sleep"), ("a", "always-die")]
    ex = LocalExecutor(2, timeout=3.0, max_retries=1)
    out = {o.key: o for o in ex.run(Task(), items)}
    assert sorted(map(str, out)) == sorted(str(k) for k, _ in items)  # each key exactly once (dict + count below)
    assert [out[i].result for i in range(8)] == [i * i for i in range(8)] and all(out[i].error is None for i in range(8))
    assert out["b"].error == "RuntimeError: bad candidate"
    assert out["d"].result == "survived" and out["d"].attempts == 2  # retried on a fresh worker
    assert "exceeded the time limit of 3 s" in out["s"].error
    assert out["a"].error == "worker died (exit code 3) on 2 tries"


def test_local_stop_abandons_running_items():
    ex = LocalExecutor(1)
    got = []
    for o in ex.run(Task(), [(i, i) for i in range(50)]):
        got.append(o.key)
        if len(got) == 3:
            ex.stop()
    assert got == [0, 1, 2]


def test_bad_options():
    with pytest.raises(ValueError, match="workers must be >= 1"):
        LocalExecutor(0)
    with pytest.raises(ValueError, match="timeout must be > 0"):
        LocalExecutor(1, timeout=0)
    with pytest.raises(ValueError, match="exclude each other"):
        make_executor(dask_local=1, dask_scheduler="tcp://x:1")


distributed = pytest.importorskip("distributed")


def test_dask_local_cluster_every_item_once():
    ex = DaskExecutor(local_workers=2, timeout=30)
    out = {o.key: o for o in ex.run(Task(), [(i, i) for i in range(12)] + [("b", "boom")])}
    assert {k: o.result for k, o in out.items() if k != "b"} == {i: i * i for i in range(12)}
    assert out["b"].error == "RuntimeError: bad candidate"


def test_dask_scheduler_and_worker_processes(tmp_path):
    """A scheduler and a worker started as separate processes on localhost, as on a real cluster."""
    sched_file = tmp_path / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    sched = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                              "--no-dashboard", "--scheduler-file", str(sched_file)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        for _ in range(600):
            if sched_file.exists() and sched_file.stat().st_size:
                break
            time.sleep(0.1)
        import json

        address = json.loads(sched_file.read_text())["address"]
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                   "--no-dashboard"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = {o.key: o.result for o in DaskExecutor(address).run(Task(), [(i, i) for i in range(6)])}
        assert out == {i: i * i for i in range(6)}
    finally:
        for p in (worker, sched):
            if p is not None:
                p.terminate()
                p.wait(30)


class MallocProbe:
    """Page faults of 50 allocate-touch-free rounds of a 2 MiB buffer, in the worker process that runs it."""

    def __call__(self, item):
        import resource

        import numpy as np

        np.ones(1 << 18)  # the first 2 MiB buffer is mmapped; freeing it lets glibc raise its mmap threshold
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(50):
            np.ones(1 << 18)
        return os.environ.get("MALLOC_TRIM_THRESHOLD_"), resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_dask_local_workers_reuse_freed_memory(monkeypatch):
    """distributed's default MALLOC_TRIM_THRESHOLD_ makes glibc mmap (and zero-fill, 512 faults) every 2 MiB buffer.

    With it, each round faults in all 512 pages (about 25,600 faults in all; this halved the
    per-cell speed of proxies on Dask workers); without it, freed buffers are reused (about one
    round's 512 faults in all).
    """
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)  # as a shell would start us
    [out] = DaskExecutor(local_workers=1).run(MallocProbe(), [("probe", None)])
    assert out.error is None, out.error
    trim, faults = out.result
    assert trim is None, f"the worker process got MALLOC_TRIM_THRESHOLD_={trim}"
    assert faults < 50 * 512 // 4, f"{faults} page faults for 50 rounds of a reused 2 MiB buffer"
