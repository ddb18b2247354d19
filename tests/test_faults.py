"""Faults with real processes: after each one, rerunning the same command gives the store of an uninterrupted run.

Cases (each counted in the final assertion of its test): kill -9 of the writer at
three moments (after the settings row, mid-run, late; random jitter so some land
inside a write), kill -9 of the whole process group, SIGTERM, SIGINT (Ctrl-C to
the group), a file-size limit (``ulimit -f``) hit part-way, two writers on one
store, plus file states a kill or a user can leave (0-byte, truncated, another
version's store) in test_store.py. A tiny NB201 network (C=4, N=1) and the
params/synflow proxies keep every run short.
"""

import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import archscore
from archscore.cli import main
from archscore.store import ScoreStore

ROOT = Path(archscore.__file__).resolve().parent.parent
N_ARCHS = 40


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("faults")
    rng = np.random.default_rng(0)
    np.savez(d / "imgs.npz", x=rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8), y=rng.integers(0, 10, 16, dtype=np.uint8))
    space = archscore.get_space("nb201")
    (d / "archs.txt").write_text("\n".join(space.to_string(a) for a in space.sample(N_ARCHS, seed=1)) + "\n")
    ref = d / "ref.db"
    assert main(_argv(d, ref)) == 0  # the uninterrupted run
    return d, _content(ref)


def _argv(d, store, *extra):
    return ["score", "--data", str(d / "imgs.npz"), "--archs", str(d / "archs.txt"), "--proxies", "params,synflow",
            "--batch-size", "8", "--space-option", "C=4", "--space-option", "N=1", "--workers", "1", "--no-progress",
            "--store", str(store), *extra]


def _content(store):
    """Every stored row as (arch, proxy, value, status), sorted: what must match the uninterrupted run."""
    with ScoreStore(store, readonly=True) as s:
        assert s.verify() == []
        rows = [(r[1], r[2], r[4], r[5]) for r in s.rows()]
    assert len(rows) == len(set((a, p) for a, p, _, _ in rows))  # nothing duplicated
    return sorted(rows)


def _spawn(d, store, *extra, preexec=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "archscore", *_argv(d, store, *extra)], cwd=d, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=preexec)


def _rows(store):
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as c:
            return c.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    except sqlite3.Error:
        return -1


def _wait_rows(proc, store, n, limit=300):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if proc.poll() is not None:
            return False
        if store.exists() and _rows(store) >= n:
            return True
        time.sleep(0.02)
    raise AssertionError(f"no {n} rows in {store} after {limit} s")


def _rerun_equals(d, store, ref):
    assert main(_argv(d, store)) == 0
    assert _content(store) == ref


def test_kill9_sigterm_sigint_then_rerun(setup, tmp_path, capsys):
    d, ref = setup
    rnd = random.Random(13)
    cases = 0
    # kill -9 at several moments of one store's life; each kill is followed by a check that the store is sound
    store = tmp_path / "k.db"
    for threshold, group in ((0, False), (10, True), (40, True)):
        proc = _spawn(d, store)
        if _wait_rows(proc, store, threshold):
            time.sleep(rnd.uniform(0, 0.2))  # random jitter: lands inside or between writes
            os.killpg(proc.pid, signal.SIGKILL) if group else proc.kill()
        proc.communicate(timeout=120)  # orphaned workers notice the dead parent and close their copies of the pipes
        if store.exists():
            with ScoreStore(store, readonly=True) as s:
                assert s.verify() == []
        cases += 1
    _rerun_equals(d, store, ref)
    # SIGTERM and SIGINT (Ctrl-C reaches the whole process group): clean stop after the current write
    for sig, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        store = tmp_path / f"{sig.name}.db"
        proc = _spawn(d, store)
        assert _wait_rows(proc, store, 6)
        os.killpg(proc.pid, sig)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == code, err
        assert f"stopped by {sig.name} after writing" in err and "rerun the same command to resume" in err
        n = _rows(store)
        assert 0 < n < 2 * N_ARCHS and n % 2 == 0  # whole architectures only (2 proxies each)
        _rerun_equals(d, store, ref)
        cases += 1
    assert cases == 5


def test_file_size_limit_then_rerun(setup, tmp_path):
    """``ulimit -f``: the write that crosses the limit fails as a whole; clear error, rc 2; the rerun completes."""
    d, ref = setup
    store = tmp_path / "f.db"

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))

    proc = _spawn(d, store, preexec=limit)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err
    assert "cannot write score store" in err and "file-size limit" in err
    assert 0 <= _rows(store) < 2 * N_ARCHS
    _rerun_equals(d, store, ref)


def test_two_writers_on_one_store(setup, tmp_path):
    d, ref = setup
    store = tmp_path / "two.db"
    procs = [_spawn(d, store) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert _content(store) == ref  # nothing lost, nothing duplicated


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders; the case needs an ordinary user")
def test_read_only_folder_then_rerun(setup, tmp_path, capsys):
    d, ref = setup
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(_argv(d, ro / "s.db")) == 2
        assert "read-only" in capsys.readouterr().err
    finally:
        ro.chmod(0o755)
    _rerun_equals(d, ro / "s.db", ref)


def test_damaged_store_files(setup, tmp_path, capsys):
    """0-byte store (kill right after creation): rerun completes. Truncated / newer-version store: rc 2, untouched."""
    d, ref = setup
    zero = tmp_path / "zero.db"
    zero.write_bytes(b"")
    _rerun_equals(d, zero, ref)
    cut = tmp_path / "cut.db"
    cut.write_bytes((d / "ref.db").read_bytes()[:6000])
    before = cut.read_bytes()
    assert main(_argv(d, cut)) == 2
    assert "not a readable score store" in capsys.readouterr().err and cut.read_bytes() == before
    newer = tmp_path / "newer.db"
    newer.write_bytes((d / "ref.db").read_bytes())
    with sqlite3.connect(newer) as c:
        c.execute("UPDATE meta SET value='99' WHERE key='schema'")
    before = newer.read_bytes()
    assert main(_argv(d, newer)) == 2
    assert "written by a newer archscore" in capsys.readouterr().err and newer.read_bytes() == before
