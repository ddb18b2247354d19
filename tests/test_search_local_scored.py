"""Local search whose neighbours are ranked by the pool's estimator (``order="scored"``, first improvement) and ``Pool.score``."""

import numpy as np
import pandas as pd
import pytest

import archscore
from archscore import get_space
from archscore.search import Pool, TabularEvaluator, neighbours, search

SPACE = get_space("nb201")
CENTER = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"


def star_table(seed=0):
    """The centre cell (value 50) and its 24 one-op neighbours (values drawn around 50), nothing else."""
    nbrs = [SPACE.to_string(a) for a in neighbours(SPACE, SPACE.from_string(CENTER))]
    vals = np.random.default_rng(seed).uniform(40, 60, size=len(nbrs)).round(3)
    return pd.DataFrame({"arch": [CENTER, *nbrs], "valid": [50.0, *vals]})


def pool_scores(table, sign):
    """A "synflow" column: the centre scores highest (the pool's top), neighbours score ``sign * value``."""
    s = sign * table["valid"].to_numpy()
    s[0] = 1e6
    return pd.DataFrame({"synflow": s}, index=table["arch"])


@pytest.fixture(scope="module")
def star():
    return star_table()


def run(table, scores, budget=25, **params):
    ev = TabularEvaluator(table, target="valid", space="nb201")
    return search("nb201", "local", ev, budget=budget, seed=0, pool=Pool(keep=1), scores=scores,
                  strategy_params={"n_init": 1, **params})


def test_with_a_pool_neighbours_are_queried_in_the_estimators_order(star):
    res = run(star, pool_scores(star, +1.0), improvement="best")
    h = res.history
    assert h["arch"].iat[0] == CENTER and (h["phase"].iloc[1:25] == "neighbours").all()
    assert list(h["value"].iloc[1:25]) == sorted(star["valid"].iloc[1:], reverse=True)  # best score first
    # without a pool's ranking (order="random"), the paper's random order
    rnd = run(star, pool_scores(star, +1.0), order="random")
    assert list(rnd.history["value"].iloc[1:25]) != sorted(star["valid"].iloc[1:], reverse=True)
    assert sorted(rnd.history["arch"]) == sorted(h["arch"])


def test_first_improvement_moves_at_the_first_better_neighbour(star):
    # an anti-correlated proxy: neighbours come worst first, so the first better one is found late
    res = run(star, pool_scores(star, -1.0))
    h = res.history
    vals = h["value"].to_numpy()
    k = int(np.argmax(vals[1:] > 50.0)) + 1  # the first neighbour better than the centre
    assert list(vals[1:k + 1]) == sorted(vals[1:k + 1]) and (vals[1:k] <= 50.0).all() and vals[k] > 50.0
    # the next query is a neighbour of the new current architecture (the move happened at once)
    moved_to = SPACE.from_string(h["arch"].iat[k])
    assert h["arch"].iat[k + 1] in {SPACE.to_string(a) for a in neighbours(SPACE, moved_to)}
    assert res.stats["pool_beyond"] == 0  # every ranked neighbour was in the pool (keep=1 keeps one, the pool holds all 25)
    # best improvement queries the whole neighbourhood first
    full = run(star, pool_scores(star, -1.0), improvement="best")
    assert len(set(full.history["arch"].iloc[:25])) == 25 and full.history["arch"].iat[0] == CENTER


def test_first_improvement_saves_queries_on_a_proxy_that_agrees(star):
    good = run(star, pool_scores(star, +1.0), budget=2)
    assert good.best.value == star["valid"].max()  # the best neighbour is the first one trained


def test_candidates_without_scores_rank_last_and_are_counted(star):
    scores = pool_scores(star, +1.0).iloc[:13]  # the centre and 12 neighbours scored; 12 not
    res = run(star, scores, improvement="best")
    h = res.history.iloc[1:25]
    scored = set(scores.index)
    assert all(a in scored for a in h["arch"].iloc[:12]) and not any(a in scored for a in h["arch"].iloc[12:])
    # the pool is the 13 scored cells: the 12 others are beyond it (nothing computed: no estimator, no data)
    assert res.stats["pool_beyond"] == 12 and res.stats["pool_beyond_seconds"] == 0.0
    assert res.stats["pool_beyond_at"] == [[1, 12]]


def test_scored_order_needs_a_pool_and_bad_values_are_named(star):
    ev = TabularEvaluator(star, target="valid", space="nb201")
    with pytest.raises(ValueError, match="order='scored' ranks neighbours with the pool's estimator"):
        search("nb201", "local", ev, budget=3, strategy_params={"order": "scored"})
    with pytest.raises(ValueError, match="order must be 'auto', 'random' or 'scored', got 'proxy'"):
        search("nb201", "local", ev, budget=3, strategy_params={"order": "proxy"})
    with pytest.raises(ValueError, match="improvement must be 'auto', 'best' or 'first', got 'greedy'"):
        search("nb201", "local", ev, budget=3, strategy_params={"improvement": "greedy"})
    with pytest.raises(RuntimeError, match="needs the pool ranked first"):
        Pool(size=3).score(None, [])


def test_neighbours_outside_the_scores_are_computed_once_and_kept_in_the_store(star, tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    import archscore.proxies as proxies
    from archscore.store import ScoreStore
    from archscore.testing import TEST_SPACE

    g = torch.Generator().manual_seed(0)
    data = (torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g))
    calls = []
    real = proxies.score_archs

    def counting(archs, *a, **k):
        calls.append(len(archs))
        return real(archs, *a, **k)

    monkeypatch.setattr(proxies, "score_archs", counting)
    scores = pd.DataFrame({"synflow": [1e30], "params": [1e9]}, index=[CENTER])  # only the centre is precomputed

    def est():
        return archscore.create_estimator("zc:ensemble", proxies=("synflow", "params"), space=TEST_SPACE)

    def go(**kw):
        ev = TabularEvaluator(star, target="valid", space="nb201")
        return search("nb201", "local", ev, budget=6, seed=0, pool=Pool(estimator=est(), keep=1, **kw), scores=scores,
                      data=data, strategy_params={"n_init": 1})

    live = go()
    assert calls == [24] and live.stats["pool_beyond"] == 24 and live.stats["pool_beyond_seconds"] > 0
    # the order is the ensemble's ranking of the 24 computed neighbours
    expect = est().predict([SPACE.from_string(a) for a in star["arch"].iloc[1:]], data=data)
    assert live.history["arch"].iat[1] == star["arch"].iat[1 + int(np.argmax(expect))]
    calls.clear()
    stored = go(store=tmp_path / "live.db")
    assert calls == [24]
    pd.testing.assert_frame_equal(stored.history, live.history)
    calls.clear()
    again = go(store=tmp_path / "live.db")  # another run (any seed) reads them from the store
    assert calls == [] and again.stats["pool_beyond"] == 24
    pd.testing.assert_frame_equal(again.history, live.history)
    with ScoreStore(tmp_path / "live.db", readonly=True) as st:
        (entry,) = st.settings()
        assert entry["archs"] == 24 and entry["proxies"] == ["synflow", "params"]


def test_scored_local_search_resumes_to_the_same_history(star, tmp_path):
    ev = TabularEvaluator(star, target="valid", space="nb201")
    scores = pool_scores(star, -1.0)
    kw = dict(seed=4, pool=Pool(keep=1), scores=scores, strategy_params={"n_init": 1})
    search("nb201", "local", ev, budget=5, out=tmp_path / "run", **kw)
    resumed = search("nb201", "local", ev, budget=12, out=tmp_path / "run", **kw)
    straight = search("nb201", "local", ev, budget=12, **kw)
    pd.testing.assert_frame_equal(resumed.history, straight.history)


def two_cliques():
    """The centre (50), its 4 neighbours on edge 0 (values 60, 40, 41, 42) and 4 on edge 1 (55, 30, 31, 32).

    Cells changed on the same edge are neighbours of each other; cells of different edges are not.
    """
    ops = ["none", "skip_connect", "nor_conv_1x1", "avg_pool_3x3"]  # the centre has nor_conv_3x3 on edges 0 and 1
    p = [CENTER.replace("|nor_conv_3x3~0|+", f"|{op}~0|+", 1) for op in ops]
    q = [CENTER.replace("+|nor_conv_3x3~0|", f"+|{op}~0|", 1) for op in ops]
    return pd.DataFrame({"arch": [CENTER, *p, *q], "valid": [50.0, 60, 40, 41, 42, 55, 30, 31, 32]})


def test_at_a_local_optimum_it_continues_from_the_best_cell_with_neighbours_left():
    table = two_cliques()
    a = dict(zip(table["valid"], table["arch"]))
    res = run(table, pool_scores(table, +1.0), budget=9, restart="best")
    h = res.history
    # centre; its best-scored neighbour (60) is better: move; 60's other neighbours (no better: a local optimum);
    # then back to the centre, whose edge-1 neighbours the first improvement had skipped: 55 beats it, and so on
    assert list(h["arch"]) == [a[v] for v in (50, 60, 42, 41, 40, 55, 32, 31, 30)]
    assert list(h["phase"]) == ["init"] + ["neighbours"] * 8
    # the default (the paper's) restart queries a new architecture instead
    new = run(table, pool_scores(table, +1.0), budget=9)
    assert list(new.history["arch"][:5]) == list(h["arch"][:5]) and new.history["phase"].iat[5] == "restart"
    with pytest.raises(ValueError, match="restart must be 'new' or 'best', got 'random'"):
        run(table, pool_scores(table, +1.0), budget=3, restart="random")


def test_a_live_pool_ranks_the_neighbours_with_its_estimator_in_one_call(star):
    torch = pytest.importorskip("torch")
    from archscore.testing import TEST_SPACE

    g = torch.Generator().manual_seed(1)
    data = (torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g))
    est = archscore.create_estimator("zc:ensemble", proxies=("synflow", "params"), space=TEST_SPACE)
    ev = TabularEvaluator(star, target="valid", space="nb201")
    res = search("nb201", "local", ev, budget=4, seed=0, pool=Pool(size=1, estimator=est), data=data,
                 strategy_params={"n_init": 1})
    start = SPACE.from_string(res.history["arch"].iat[0])
    nbrs = [a for a in neighbours(SPACE, start) if SPACE.to_string(a) in set(star["arch"])]
    expect = est.predict(nbrs, data=data)  # the whole neighbourhood in one call, as the strategy ranks it
    assert res.history["arch"].iat[1] == SPACE.to_string(nbrs[int(np.argmax(expect))])
    assert res.stats["pool_beyond"] == len(nbrs) and res.stats["pool_beyond_seconds"] > 0
