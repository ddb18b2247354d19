"""The applications' score cache: get/put/resume keyed by cell and settings."""

import json
import math

from archscore.bench.cache import ScoreCache, fingerprint


def test_put_get_resume_and_reload(tmp_path):
    path = tmp_path / "c" / "scores.jsonl"
    cache = ScoreCache(path, {"seed": 0, "proxies": ["a", "b"]})
    assert cache.get("x") is None and cache.resume(["x", "y"]) == ["x", "y"]
    cache.put("x", {"a": 1.5, "b": float("-inf")}, suite_ms=3.0)
    cache.put("y", {"a": float("nan"), "b": 2})
    assert cache.resume(["z", "y", "x"]) == ["z"]
    again = ScoreCache(path, {"proxies": ["a", "b"], "seed": 0})  # same settings, other key order
    rec = again.get("x")
    assert rec["scores"] == {"a": 1.5, "b": float("-inf")} and rec["suite_ms"] == 3.0 and rec["arch"] == "x"
    assert math.isnan(again.get("y")["scores"]["a"]) and again.get("y")["scores"]["b"] == 2.0
    assert [r["arch"] for r in again.records()] == ["x", "y"]


def test_other_settings_see_nothing_and_share_the_file(tmp_path):
    path = tmp_path / "scores.jsonl"
    a = ScoreCache(path, {"seed": 0})
    a.put("x", {"p": 1.0})
    b = ScoreCache(path, {"seed": 1})
    assert b.get("x") is None and b.resume(["x"]) == ["x"] and b.records() == []
    b.put("x", {"p": 2.0})
    assert ScoreCache(path, {"seed": 0}).get("x")["scores"]["p"] == 1.0
    assert ScoreCache(path, {"seed": 1}).get("x")["scores"]["p"] == 2.0
    assert len(path.read_text().splitlines()) == 2


def test_truncated_line_is_skipped(tmp_path):
    path = tmp_path / "scores.jsonl"
    cache = ScoreCache(path, {})
    cache.put("x", {"p": 1.0})
    with path.open("a") as fh:
        fh.write('{"key": "abc", "arch": "y", "sco')  # an interrupted write
    reloaded = ScoreCache(path, {})
    assert reloaded.get("x")["scores"] == {"p": 1.0} and reloaded.resume(["x", "y"]) == ["y"]
    assert json.loads(path.read_text().splitlines()[0])["arch"] == "x"


def test_fingerprint_tells_batches_apart():
    import numpy as np

    a = np.arange(6, dtype=np.float32)
    assert fingerprint(a) == fingerprint(a.copy()) and fingerprint(a) != fingerprint(a[::-1])
    assert len(fingerprint(a)) == 16
