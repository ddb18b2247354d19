"""Search histories and pool scores kept in the score store (search(store=...), Pool(store=...))."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import archscore
from archscore import get_space
from archscore.base import Estimator, Tags
from archscore.search import Pool, TabularEvaluator, search
from archscore.store import ScoreStore, StoreError

ROOT = Path(__file__).resolve().parents[1]
SPACE = get_space("nb201")


def make_table(n=200, seed=2):
    rng = np.random.default_rng(seed)
    strings = [SPACE.to_string(a) for a in SPACE.sample(n, seed=seed)]
    value = rng.normal(80, 5, size=n).round(4)
    return pd.DataFrame({"arch": strings, "valid": value, "test": value + 100})


@pytest.fixture(scope="module")
def table():
    return make_table()


@pytest.fixture(scope="module")
def ev(table):
    return TabularEvaluator(table, target="valid", report="test", space="nb201")


class Counting(Estimator):
    """Comparable across calls: the table's value; counts the architectures it is asked to score."""

    scored: list = []

    def __init__(self, truth=None, offset=0.0):
        self.truth = truth
        self.offset = offset

    def _predict(self, archs, **context):
        Counting.scored.extend(SPACE.to_string(a) for a in archs)
        return np.array([self.truth[SPACE.to_string(a)] + self.offset for a in archs])


class RankOnly(Counting):
    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.output.comparable_across_calls = False
        return tags


def test_history_in_the_store_resumes_and_each_setting_is_its_own_entry(ev, tmp_path):
    db = tmp_path / "runs.db"
    straight = search("nb201", "rea", ev, budget=30, seed=4)
    first = search("nb201", "rea", ev, budget=12, seed=4, store=db)
    pd.testing.assert_frame_equal(first.history, straight.history.iloc[:12][first.history.columns])
    resumed = search("nb201", "rea", ev, budget=30, seed=4, store=db)  # a larger budget continues the same entry
    pd.testing.assert_frame_equal(resumed.history, straight.history)
    other = search("nb201", "rea", ev, budget=5, seed=5, store=db)  # another seed: another entry, nothing mixed
    with ScoreStore(db, readonly=True) as st:
        entries = [e for e in st.settings() if e["settings"].get("kind") == "search-history"]
        assert sorted((e["settings"]["seed"], e["queries"]) for e in entries) == [(4, 30), (5, 5)]
        sid = next(e["id"] for e in entries if e["settings"]["seed"] == 4)
        rows = st.history(sid)
        assert [r["arch"] for r in rows] == list(straight.history["arch"])
        assert [float(r["value"]) for r in rows] == list(straight.history["value"])
        assert st.verify() == []
    assert list(other.history["arch"]) != list(straight.history["arch"][:5])
    with pytest.raises(ValueError, match="give out= .* or store= .*, not both"):
        search("nb201", "rea", ev, budget=3, seed=4, store=db, out=tmp_path / "x")
    with pytest.raises(ValueError, match="already holds a history of this run; pass resume=True"):
        search("nb201", "rea", ev, budget=30, seed=4, store=db, resume=False)


def test_a_conflicting_history_row_is_refused_and_the_recorded_one_kept(tmp_path):
    with ScoreStore(tmp_path / "s.db") as st:
        sid = st.settings_id({"kind": "search-history", "seed": 0})
        st.append_history(sid, 0, "a", {"query": "0", "arch": "a", "value": "1.0"})
        st.append_history(sid, 0, "a", {"query": "0", "arch": "a", "value": "1.0"})  # the same row again: a no-op
        with pytest.raises(StoreError, match="query 0 of search settings .* already recorded with another result"):
            st.append_history(sid, 0, "a", {"query": "0", "arch": "a", "value": "2.0"})
        assert st.history(sid) == [{"query": "0", "arch": "a", "value": "1.0"}]


RESUME_SCRIPT = textwrap.dedent("""
    import sys, time
    import pandas as pd
    from archscore.search import search, TabularEvaluator
    table = pd.read_csv(sys.argv[1])
    ev = TabularEvaluator(table, target="valid", report="test", space="nb201")
    search("nb201", "rea", ev, budget=int(sys.argv[3]), seed=9, store=sys.argv[2], callback=lambda row: time.sleep(0.15))
""")


def test_kill_9_during_a_store_held_search_then_rerun_gives_the_uninterrupted_history(table, ev, tmp_path):
    csv_path = tmp_path / "table.csv"
    table.to_csv(csv_path, index=False)
    db = tmp_path / "runs.db"
    budget = 40
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", RESUME_SCRIPT, str(csv_path), str(db), str(budget)], env=env)

    def recorded():
        try:
            with sqlite3.connect(db) as c:
                return c.execute("SELECT COUNT(*) FROM history").fetchone()[0]
        except sqlite3.Error:
            return 0

    deadline = time.time() + 180
    while time.time() < deadline and recorded() < 12:
        if proc.poll() is not None:
            pytest.fail("the search subprocess ended before it could be killed")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_before = recorded()
    assert 12 <= n_before < budget
    resumed = search("nb201", "rea", ev, budget=budget, seed=9, store=db)
    straight = search("nb201", "rea", ev, budget=budget, seed=9)
    pd.testing.assert_frame_equal(resumed.history, straight.history)
    with ScoreStore(db, readonly=True) as st:
        assert st.verify() == []
        (entry,) = st.settings()
        assert entry["queries"] == budget


def test_pool_scores_are_stored_and_never_recomputed_for_the_same_settings(table, ev, tmp_path):
    truth = dict(zip(table["arch"], table["valid"]))
    db = tmp_path / "pool.db"
    Counting.scored = []
    pool = Pool(size=50, estimator=Counting(truth), store=db)
    a = search("nb201", "random", ev, budget=5, seed=0, pool=pool)
    assert pool.computed_ == 50 and len(Counting.scored) == 50
    first_pool = set(Counting.scored)
    # another seed samples another pool: only the cells the store lacks are scored
    Counting.scored = []
    pool_b = Pool(size=50, estimator=Counting(truth), store=db)
    search("nb201", "random", ev, budget=5, seed=1, pool=pool_b)
    assert set(Counting.scored) == set(pool_b.ranked_) - first_pool and pool_b.computed_ == len(Counting.scored)
    # the first seed again: nothing is scored, the same ranking and history
    Counting.scored = []
    pool_c = Pool(size=50, estimator=Counting(truth), store=db)
    again = search("nb201", "random", ev, budget=5, seed=0, pool=pool_c)
    assert Counting.scored == [] and pool_c.computed_ == 0
    assert pool_c.ranked_ == pool.ranked_
    pd.testing.assert_frame_equal(again.history, a.history)
    # other estimator parameters are other settings: scored anew, never served the old values
    pool_d = Pool(size=50, estimator=Counting(truth, offset=1.0), store=db)
    search("nb201", "random", ev, budget=5, seed=0, pool=pool_d)
    assert pool_d.computed_ == 50 and np.allclose(pool_d.scores_, pool.scores_ + 1.0)
    with ScoreStore(db, readonly=True) as st:
        pools = [e for e in st.settings() if e["settings"]["kind"] == "search-pool"]
        assert [e["archs"] for e in pools] == [len(first_pool | set(pool_b.ranked_)), 50]
        assert pools[0]["proxies"] == ["score"]


def test_search_store_is_passed_to_the_pool(table, ev, tmp_path):
    truth = dict(zip(table["arch"], table["valid"]))
    db = tmp_path / "both.db"
    Counting.scored = []
    search("nb201", "random", ev, budget=3, seed=0, pool=Pool(size=30, estimator=Counting(truth)), store=db)
    Counting.scored = []
    search("nb201", "random", ev, budget=6, seed=0, pool=Pool(size=30, estimator=Counting(truth)), store=db)
    assert Counting.scored == []  # the pool came from the store and the history resumed
    with ScoreStore(db, readonly=True) as st:
        kinds = sorted(e["settings"]["kind"] for e in st.settings())
    assert kinds == ["search-history", "search-pool"]


def test_a_ranking_within_a_call_estimator_cannot_be_cached(table, ev, tmp_path):
    truth = dict(zip(table["arch"], table["valid"]))
    with pytest.raises(ValueError, match="ranks within one predict call, so its pool scores cannot be kept in a store"):
        search("nb201", "random", ev, budget=3, pool=Pool(size=10, estimator=RankOnly(truth), store=tmp_path / "p.db"))


def test_zc_ensemble_pool_stores_raw_proxy_scores_and_ranks_as_live(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from archscore.testing import TEST_SPACE

    g = torch.Generator().manual_seed(0)
    data = (torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g))
    tab = make_table(40, seed=3)
    ev = TabularEvaluator(tab, target="valid", space="nb201")

    def est():
        return archscore.create_estimator("zc:ensemble", proxies=("synflow", "params"), space=TEST_SPACE)

    live = Pool(size=8, estimator=est())
    search("nb201", "random", ev, budget=2, seed=0, pool=live, data=data)
    stored = Pool(size=8, estimator=est(), store=tmp_path / "zc.db")
    search("nb201", "random", ev, budget=2, seed=0, pool=stored, data=data)
    assert stored.ranked_ == live.ranked_ and np.allclose(stored.scores_, live.scores_)
    with ScoreStore(tmp_path / "zc.db", readonly=True) as st:
        (entry,) = st.settings()
        assert entry["proxies"] == ["synflow", "params"] and entry["archs"] == 8
    # the second time nothing is computed: the proxies are read from the store
    import archscore.proxies as proxies

    monkeypatch.setattr(proxies, "score_archs", lambda *a, **k: pytest.fail("recomputed a stored proxy score"))
    again = Pool(size=8, estimator=est(), store=tmp_path / "zc.db")
    search("nb201", "random", ev, budget=2, seed=0, pool=again, data=data)
    assert again.computed_ == 0 and again.ranked_ == live.ranked_
    # another data batch is another setting
    other = (data[0] + 1.0, data[1])
    monkeypatch.undo()
    fresh = Pool(size=8, estimator=est(), store=tmp_path / "zc.db")
    search("nb201", "random", ev, budget=2, seed=0, pool=fresh, data=other)
    assert fresh.computed_ == 8
