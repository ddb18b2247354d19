"""The applications' score cache: get/put/resume keyed by cell and settings, on top of the score store."""

import math

import numpy as np

from archscore.bench.cache import ScoreCache, fingerprint
from archscore.store import ScoreStore


def test_put_get_resume_and_reload(tmp_path):
    path = tmp_path / "c" / "scores.db"
    cache = ScoreCache(path, {"seed": 0, "proxies": ["a", "b"]})
    assert cache.get("x") is None and cache.resume(["x", "y"]) == ["x", "y"]
    cache.put("x", {"a": 1.5, "b": float("-inf")}, suite_ms=3.0)
    cache.put("y", {"a": float("nan"), "b": 2})
    assert cache.resume(["z", "y", "x"]) == ["z"]
    cache.close()
    again = ScoreCache(path, {"proxies": ["a", "b"], "seed": 0})  # same settings, other key order
    rec = again.get("x")
    assert rec["scores"] == {"a": 1.5, "b": float("-inf")} and rec["suite_ms"] == 3.0 and rec["arch"] == "x"
    assert math.isnan(again.get("y")["scores"]["a"]) and again.get("y")["scores"]["b"] == 2.0
    assert [r["arch"] for r in again.records()] == ["x", "y"]
    # the NaN is kept as a failure with its reason, so --retry-failed style reruns can find it
    assert again.store.failures(again._sid) == [("y", "a", "evaluated to NaN")]


def test_other_settings_see_nothing_and_share_the_file(tmp_path):
    path = tmp_path / "scores.db"
    a = ScoreCache(path, {"seed": 0})
    a.put("x", {"p": 1.0})
    b = ScoreCache(path, {"seed": 1})
    assert b.get("x") is None and b.resume(["x"]) == ["x"] and b.records() == []
    b.put("x", {"p": 2.0})
    assert ScoreCache(path, {"seed": 0}).get("x")["scores"]["p"] == 1.0
    assert ScoreCache(path, {"seed": 1}).get("x")["scores"]["p"] == 2.0
    assert len(ScoreStore(path).settings()) == 2


def test_a_finished_score_is_never_replaced(tmp_path):
    cache = ScoreCache(tmp_path / "s.db", {})
    cache.put("x", {"p": 1.0})
    cache.put("x", {"p": 5.0})  # a second writer computing the same cell: the first result stays
    assert cache.get("x")["scores"] == {"p": 1.0} and len(cache.records()) == 1


def test_fingerprint_tells_batches_apart():
    a = np.arange(6, dtype=np.float32)
    assert fingerprint(a) == fingerprint(a.copy()) and fingerprint(a) != fingerprint(a[::-1])
    assert fingerprint(a) != fingerprint(a.astype(np.float64)) and fingerprint(a) != fingerprint(a.reshape(2, 3))
    assert len(fingerprint(a)) == 16
