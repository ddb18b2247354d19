"""The score store: keys, transactions, failures, export, and the files it refuses to touch."""

import math
import sqlite3

import pandas as pd
import pytest

from archscore.cli import main
from archscore.store import SCHEMA_VERSION, ScoreStore, StoreError, export, pick_settings, settings_key


def test_keys_resume_and_never_stale(tmp_path):
    s = ScoreStore(tmp_path / "a" / "s.db")
    sid = s.settings_id({"seed": 0, "space": "nb201"})
    assert s.settings_id({"space": "nb201", "seed": 0}) == sid  # key order does not matter
    other = s.settings_id({"space": "nb201", "seed": 1})
    assert other != sid
    assert s.put(sid, "x", {"p": 1.5, "q": float("inf")}) == 2
    assert s.missing(sid, ["x", "y"], ["p", "q", "r"]) == {"x": ["r"], "y": ["p", "q", "r"]}
    assert s.missing(other, ["x"], ["p"]) == {"x": ["p"]}  # another setting never sees x's scores
    assert s.get(sid, "x")["q"]["value"] == math.inf
    assert s.put(sid, "x", {"p": 9.0}) == 0  # a finished score is never replaced
    assert s.get(sid, "x")["p"]["value"] == 1.5


def test_failures_recorded_and_replaced_by_a_retry(tmp_path):
    s = ScoreStore(tmp_path / "s.db")
    sid = s.settings_id({})
    s.put(sid, "x", {"p": float("nan")}, errors={"q": "RuntimeError: boom"})
    assert s.failures(sid) == [("x", "p", "evaluated to NaN"), ("x", "q", "RuntimeError: boom")]
    assert s.missing(sid, ["x"], ["p", "q"]) == {}
    assert s.missing(sid, ["x"], ["p", "q"], retry_failed=True) == {"x": ["p", "q"]}
    s.put(sid, "x", {"p": 2.0, "q": 3.0})
    assert s.failures(sid) == [] and s.frame(sid).loc["x"].tolist() == [2.0, 3.0]


def test_frame_and_export_csv_parquet(tmp_path):
    s = ScoreStore(tmp_path / "s.db")
    sid = s.settings_id({"k": 1})
    s.put(sid, "b", {"p": 1.0, "q": 2.0})
    s.put(sid, "a", {"p": 3.0}, errors={"q": "oops"})
    f = s.frame(sid)
    assert list(f.index) == ["b", "a"] and list(f.columns) == ["p", "q"] and math.isnan(f.loc["a", "q"])
    assert list(s.frame(sid, ["q"], cells=["a", "zz", "b"]).index) == ["a", "b"]
    assert export(s, sid, tmp_path / "o.csv") == 2
    got = pd.read_csv(tmp_path / "o.csv")
    assert list(got.columns) == ["arch", "p", "q"] and got["p"].tolist() == [1.0, 3.0]
    pytest.importorskip("pyarrow")
    export(s, sid, tmp_path / "o.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "o.parquet"), f)
    with pytest.raises(ValueError, match=".csv or .parquet"):
        export(s, sid, tmp_path / "o.txt")


def test_pick_settings(tmp_path):
    s = ScoreStore(tmp_path / "s.db")
    with pytest.raises(ValueError, match="holds no settings"):
        pick_settings(s, None)
    a, b = s.settings_id({"seed": 0, "x": "u"}), s.settings_id({"seed": 1, "x": "u"})
    assert pick_settings(s, "seed=1") == b and pick_settings(s, str(a)) == a
    with pytest.raises(ValueError, match="holds 2 settings; pick one"):
        pick_settings(s, None)
    with pytest.raises(ValueError, match="matches 2 of the 2"):
        pick_settings(s, "x=u")
    with pytest.raises(ValueError, match="matches 0"):
        pick_settings(s, "seed=7")


def _bytes(path):
    return path.read_bytes()


def test_refuses_newer_foreign_corrupt_and_folders(tmp_path, capsys):
    good = tmp_path / "good.db"
    ScoreStore(good).close()
    newer = tmp_path / "newer.db"
    ScoreStore(newer).close()
    with sqlite3.connect(newer) as c:
        c.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION + 1),))
        c.execute("UPDATE meta SET value='archscore 9.0' WHERE key='created_by'")
    before = _bytes(newer)
    with pytest.raises(StoreError, match=r"written by a newer archscore \(archscore 9.0, schema 2.*upgrade"):
        ScoreStore(newer)
    assert _bytes(newer) == before
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as c:
        c.execute("CREATE TABLE users (name TEXT)")
    before = _bytes(foreign)
    with pytest.raises(StoreError, match="not an archscore score store .tables: users"):
        ScoreStore(foreign)
    assert _bytes(foreign) == before
    for name, content in (("text.db", b"arch,params\nx,1\n"), ("cut.db", good.read_bytes()[:3000])):
        p = tmp_path / name
        p.write_bytes(content)
        with pytest.raises(StoreError, match="not a readable score store .*left untouched"):
            ScoreStore(p)
        assert p.read_bytes() == content
    with pytest.raises(StoreError, match="exists but is not a file"):
        ScoreStore(tmp_path)
    with pytest.raises(StoreError, match="not found"):
        ScoreStore(tmp_path / "absent.db", readonly=True)
    assert main(["store", "info", str(foreign)]) == 2
    assert "archscore: error:" in capsys.readouterr().err


def test_zero_byte_file_becomes_a_store(tmp_path):
    """What a kill right after creating the file leaves: nothing to lose, so it is initialised."""
    p = tmp_path / "z.db"
    p.write_bytes(b"")
    s = ScoreStore(p)
    s.put(s.settings_id({}), "x", {"p": 1.0})
    assert s.verify() == []


def test_settings_must_be_json():
    assert settings_key({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    with pytest.raises(ValueError, match="JSON-serialisable"):
        settings_key({"a": float("nan")})


def test_store_cli_info_and_verify(tmp_path, capsys):
    p = tmp_path / "s.db"
    s = ScoreStore(p)
    sid = s.settings_id({"seed": 3})
    s.put(sid, "x", {"p": 1.0}, errors={"q": "bad"})
    s.close()
    assert main(["store", "info", str(p)]) == 0
    out = capsys.readouterr().out
    assert "settings 1: 1 archs, 1 scores, 1 failures; proxies p, q" in out and '{"seed": 3}' in out
    assert main(["store", "verify", str(p)]) == 0 and "OK (2 rows)" in capsys.readouterr().out
    with sqlite3.connect(p) as c:  # break an invariant behind the store's back
        c.execute("INSERT INTO scores VALUES (99, 'y', 'p', '{}', 1.0, 'ok', NULL, NULL, NULL, 'v', 0)")
    assert main(["store", "verify", str(p)]) == 1
    assert "1 score rows whose settings are missing" in capsys.readouterr().out
    assert main(["store", "export", str(p)]) == 2
    assert "needs --out" in capsys.readouterr().err
    assert main(["store", "export", str(p), "--out", str(tmp_path / "e.csv"), "--failures", str(tmp_path / "f.csv")]) == 0
    assert pd.read_csv(tmp_path / "f.csv").to_dict("records") == [{"arch": "x", "proxy": "q", "error": "bad"}]


def _open_store(path, barrier, queue):
    barrier.wait()
    try:
        ScoreStore(path)
        queue.put("ok")
    except Exception as exc:  # noqa: BLE001 - the error is the result reported to the parent
        queue.put(repr(exc))


def test_processes_creating_one_new_store_at_once_all_succeed(tmp_path):
    """Switching a new file to WAL reports "locked" without SQLite's busy handler: opening must wait, not fail."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    results = []
    for i in range(8):
        path = tmp_path / f"s{i}.db"
        barrier, queue = ctx.Barrier(3), ctx.Queue()
        procs = [ctx.Process(target=_open_store, args=(path, barrier, queue)) for _ in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=120)
        results += [queue.get(timeout=10) for _ in procs]
    assert results == ["ok"] * 24, [r for r in results if r != "ok"]
