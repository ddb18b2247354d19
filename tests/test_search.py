"""Search loop, strategies, evaluators and pools on tiny synthetic tables (no shared data needed)."""

import json
import math
import os
import signal
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
from archscore.registry import UnknownNameError
from archscore.search import (
    EstimatorEvaluator,
    FunctionEvaluator,
    Pool,
    TabularEvaluator,
    list_strategies,
    neighbours,
    search,
)

ROOT = Path(__file__).resolve().parents[1]
CHEAP_BANANAS = {"surrogate": None, "n_candidates": 30}


def make_table(n=300, seed=0):
    """``n`` random NB201 cells with random values; report = value + 100 so it can be told apart."""
    space = get_space("nb201")
    rng = np.random.default_rng(seed)
    strings = [space.to_string(a) for a in space.sample(n, seed=seed)]
    value = rng.normal(80, 5, size=n).round(4)
    return pd.DataFrame({"arch": strings, "valid": value, "test": value + 100, "valid_12": (value - 10).round(4)})


def cheap_bananas(**kw):
    from archscore.search.strategies import Bananas

    return Bananas(surrogate=archscore.create_estimator("rf", encoding="onehot", n_estimators=20), n_candidates=30, **kw)


@pytest.fixture(scope="module")
def table():
    return make_table()


@pytest.fixture(scope="module")
def ev(table):
    return TabularEvaluator(table, target="valid", report="test", space="nb201")


def test_registered_strategies():
    assert {"random", "rea", "local", "bananas", "reinforce", "hyperband", "sh"} <= set(list_strategies())


@pytest.mark.parametrize("strategy", ["random", "rea", "local", "bananas", "reinforce"])
def test_history_is_confined_to_the_table_and_best_is_its_max(strategy, table, ev):
    strat = cheap_bananas() if strategy == "bananas" else strategy
    res = search("nb201", strat, ev, budget=25, seed=3)
    h = res.history
    assert len(h) == 25 and list(h["query"]) == list(range(25))
    assert {"arch", "value", "report", "cost"} <= set(h.columns)
    assert set(h["arch"]) <= set(table["arch"])  # confined to the table's architectures
    assert h["arch"].is_unique  # repeats are served from the history, not queried again
    truth = dict(zip(table["arch"], table["valid"]))
    assert all(truth[a] == v for a, v in zip(h["arch"], h["value"]))
    assert np.allclose(h["report"], h["value"] + 100)
    assert res.best.value == h["value"].max() and res.best.report == pytest.approx(res.best.value + 100)
    assert res.best.arch == h["arch"][h["value"].idxmax()]
    assert (h["cost"] == 1.0).all()


def test_same_seed_same_history_other_seed_other(ev):
    for strategy in ("rea", "reinforce", "local", "random"):
        a = search("nb201", strategy, ev, budget=30, seed=7).history
        b = search("nb201", strategy, ev, budget=30, seed=7).history
        pd.testing.assert_frame_equal(a, b)
        c = search("nb201", strategy, ev, budget=30, seed=8).history
        assert list(a["arch"]) != list(c["arch"])
    a = search("nb201", cheap_bananas(), ev, budget=14, seed=1).history
    b = search("nb201", cheap_bananas(), ev, budget=14, seed=1).history
    pd.testing.assert_frame_equal(a, b)


def test_evolution_and_bananas_climb_a_known_objective():
    """On the full NB201 space, value = number of 3x3 convs: the optimum (6) is found, random search rarely does."""
    space = get_space("nb201")
    count = lambda a: float(sum(op == "nor_conv_3x3" for op in space.cell_ops(a)))  # noqa: E731
    fe = FunctionEvaluator(count)
    res = search(space, "rea", fe, budget=150, seed=0)
    assert res.best.value == 6 and res.best.arch == "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    curve = res.best_so_far("value")
    assert np.all(np.diff(curve) >= 0)
    assert search(space, "local", fe, budget=100, seed=0).best.value == 6
    res = search(space, cheap_bananas(acquisition="ucb"), fe, budget=30, seed=0)
    assert res.best.value == 6 and res.stats["surrogate_fits"] == 25  # one refit per query after the 5 initial ones
    assert res.history["acq"].iloc[5:].notna().all() and res.history["acq"].iloc[:5].isna().all()
    res = search(space, "bananas", fe, budget=20, seed=0)  # the default surrogate (a GP) climbs it too
    assert res.best.value == 6 and res.history["pred_std"].iloc[5:].gt(0).all()


def test_repeats_are_not_counted_and_exhaustion_stops(caplog):
    small = make_table(n=8, seed=2)
    ev = TabularEvaluator(small, target="valid", space="nb201")
    res = search("nb201", "rea", ev, budget=8, seed=0, strategy_params={"population_size": 3, "tournament_size": 2})
    assert len(res.history) == 8 and res.history["arch"].is_unique and res.n_repeats > 0
    with caplog.at_level("WARNING"):
        res = search("nb201", "random", ev, budget=20, seed=0)
    assert len(res.history) == 8  # only 8 architectures exist
    res = search("nb201", "rea", ev, budget=20, seed=0, strategy_params={"population_size": 3, "tournament_size": 2})
    assert len(res.history) == 8 and "exhausted" in caplog.text


def test_failures_are_recorded_counted_and_the_run_goes_on():
    space = get_space("nb201")
    calls = []

    def train(arch):
        calls.append(arch)
        ops = space.cell_ops(arch)
        if ops[0] == "none":
            raise RuntimeError("out of memory")
        if ops[0] == "skip_connect":
            return float("nan")
        return float(sum(op == "nor_conv_3x3" for op in ops))

    res = search(space, "random", FunctionEvaluator(train), budget=60, seed=0)
    h = res.history
    assert len(h) == 60 == len(calls)  # failures count toward the budget
    oom = h["error"].str.contains("RuntimeError: out of memory")
    nan = h["error"].str.contains("non-finite")
    assert oom.sum() > 0 and nan.sum() > 0
    assert h.loc[oom | nan, "value"].isna().all() and (h.loc[~(oom | nan), "error"] == "").all()
    assert res.best.value == h["value"].max()


def test_function_evaluator_return_forms():
    space = get_space("nb201")
    a = space.sample(1, seed=0)[0]
    assert FunctionEvaluator(lambda x: (2.0, 7.0)).evaluate(a).cost == 7.0
    e = FunctionEvaluator(lambda x: [1.0, 2.0, 3.5]).evaluate(a)
    assert (e.value, e.curve, e.epochs) == (3.5, [1.0, 2.0, 3.5], 3.0)
    e = FunctionEvaluator(lambda x: {"value": 1.0, "report": 2.0, "cost": 3.0}).evaluate(a)
    assert (e.value, e.report, e.cost) == (1.0, 2.0, 3.0)
    with pytest.raises(ValueError, match="unknown keys"):
        FunctionEvaluator(lambda x: {"valeu": 1.0}).evaluate(a)


# ------------------------------------------------------------------ bad input
def test_bad_input_messages(table, ev, tmp_path):
    with pytest.raises(UnknownNameError, match="did you mean 'bananas'"):
        search("nb201", "banana", ev, budget=5)
    with pytest.raises(UnknownNameError, match="did you mean 'table'"):
        search("nb201", "rea", "tabel", budget=5)
    for bad in (0, -3, 2.5, "10", True):
        with pytest.raises(ValueError, match="budget must be a positive integer"):
            search("nb201", "random", ev, budget=bad)
    with pytest.raises(ValueError, match="no target column 'valid_acc'.*did you mean 'valid'"):
        TabularEvaluator(table, target="valid_acc", space="nb201")
    with pytest.raises(ValueError, match="Pool size 301 is larger than the 300 architectures of the table"):
        search("nb201", "random", ev, budget=5, pool=Pool(size=301, estimator="zc:synflow"))
    with pytest.raises(ValueError, match="larger than the 15625 architectures of the space"):
        search("nb201", "random", FunctionEvaluator(lambda a: 1.0), budget=5, pool=Pool(size=20000, estimator="zc:synflow"))
    with pytest.raises(ValueError, match="needs an evaluator with at least two fidelities"):
        search("nb201", "hyperband", ev, budget=5)
    with pytest.raises(ValueError, match="unknown acquisition function 'ucbb'"):
        search("nb201", "bananas", ev, budget=12, strategy_params={"acquisition": "ucbb"})


def test_history_of_another_run_is_refused_and_kept(ev, tmp_path):
    out = tmp_path / "run"
    search("nb201", "rea", ev, budget=10, seed=0, out=out)
    before = (out / "history.csv").read_bytes()
    with pytest.raises(ValueError, match="another run: seed differs"):
        search("nb201", "rea", ev, budget=10, seed=1, out=out)
    with pytest.raises(ValueError, match="another run: strategy differs"):
        search("nb201", "random", ev, budget=10, seed=0, out=out)
    meta = json.loads((out / "run.json").read_text())
    meta["version"] = 99
    (out / "run.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="newer history format"):
        search("nb201", "rea", ev, budget=10, seed=0, out=out)
    assert (out / "history.csv").read_bytes() == before  # nothing recorded is lost


# ------------------------------------------------------------------ pools and the ranking guard
class RankWithinCall(Estimator):
    """Scores are ranks within one predict call (like zc:ensemble); records every call's size."""

    calls: list = []

    def __init__(self, truth=None):
        self.truth = truth

    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.output.comparable_across_calls = False
        return tags

    def _predict(self, archs, **context):
        RankWithinCall.calls.append(len(archs))
        v = np.array([self.truth[get_space("nb201").to_string(a)] for a in archs])
        return np.argsort(np.argsort(v)).astype(float)


def test_ranking_within_a_call_estimator_cannot_score_one_at_a_time(table):
    truth = dict(zip(table["arch"], table["valid"]))
    with pytest.raises(ValueError, match="ranks architectures within one predict call"):
        EstimatorEvaluator(RankWithinCall(truth))
    with pytest.raises(ValueError, match="comparable_across_calls=False"):
        search("nb201", "rea", EstimatorEvaluator(archscore.create_estimator("zc:ensemble")), budget=5)


def test_pool_is_scored_in_one_call_and_warm_starts_strategies(table, ev):
    truth = dict(zip(table["arch"], table["valid"]))
    RankWithinCall.calls = []
    pool = Pool(size=100, estimator=RankWithinCall(truth), keep=20)
    res = search("nb201", "random", ev, budget=10, seed=0, pool=pool)
    assert RankWithinCall.calls == [100]  # the whole pool in one call
    vals = res.history["value"].to_numpy()
    assert np.all(np.diff(vals) < 0)  # random search queries the pool best first
    assert pool.ranked_[:10] == list(res.history["arch"])
    # evolution starts from the pool's top: its initial population is the top 20
    res = search("nb201", "rea", ev, budget=20, seed=0, pool=Pool(size=100, estimator=RankWithinCall(truth)))
    assert sorted(res.history["value"], reverse=True) == list(res.history["value"])


def test_pool_from_precomputed_scores(table, ev):
    # a "synflow" column that orders like the truth (higher is better) and a lower-is-better column that agrees
    scores = pd.DataFrame({"synflow": table["valid"].to_numpy(), "params": -table["valid"].to_numpy()}, index=table["arch"])
    res = search("nb201", "random", ev, budget=5, seed=0, pool=Pool(estimator=archscore.create_estimator("zc:synflow")), scores=scores)
    assert list(res.history["value"]) == sorted(table["valid"], reverse=True)[:5]
    # default with scores: log-rank over every column with each proxy's direction (params: higher is better -> disagrees)
    res = search("nb201", "random", ev, budget=3, seed=0, pool=Pool(size=50, scores=scores[["synflow"]]))
    assert res.history["value"].is_monotonic_decreasing
    with pytest.raises(ValueError, match="Pool size 400 is larger than the 300 scored architectures"):
        search("nb201", "random", ev, budget=3, pool=Pool(size=400), scores=scores)


# ------------------------------------------------------------------ constraints, fidelities, early stopping
def test_max_params_is_checked_before_a_query_is_spent(table):
    tiny = get_space("nb201", C=4, N=1)
    ev = TabularEvaluator(table, target="valid", space=tiny)
    n_params = {s: sum(p.numel() for p in tiny.build(tiny.from_string(s)).parameters()) for s in table["arch"][:60]}
    limit = float(np.median(list(n_params.values())))
    res = search(tiny, "random", ev, budget=30, seed=0, constraints={"max_params": limit})
    assert len(res.history) == 30 and res.n_refused > 0
    for s in res.history["arch"]:
        assert sum(p.numel() for p in tiny.build(tiny.from_string(s)).parameters()) <= limit
    with pytest.raises(ValueError, match="unknown constraint 'max_param'"):
        search(tiny, "random", ev, budget=3, constraints={"max_param": 1})


def test_successive_halving_and_hyperband_use_fidelities(table):
    ev = TabularEvaluator(table, target="valid", report="test", space="nb201", fidelities={12: "valid_12", 200: "valid"})
    for strategy in ("sh", "hyperband"):
        res = search("nb201", strategy, ev, budget=10, seed=0)
        h = res.history
        low = h["fidelity"].notna()
        assert low.any() and (~low).any()
        assert res.spent == pytest.approx(low.sum() * 12 / 200 + (~low).sum())
        assert (h.loc[low, "cost"] == 12).all() and (h.loc[~low, "cost"] == 200).all()
        assert h.loc[low, "report"].isna().all()
        assert res.best.value == h.loc[~low, "value"].max()  # low-fidelity values never become the best
        # every full-fidelity query of successive halving was promoted from the low-fidelity rung
        if strategy == "sh":
            assert set(h.loc[~low, "arch"]) <= set(h.loc[low, "arch"])


def test_early_stopping_on_learning_curves():
    from archscore.predictors.curves import EarlyStopping

    space = get_space("nb201")

    def curve(arch):
        final = 50 + 10 * sum(op == "nor_conv_3x3" for op in space.cell_ops(arch))
        t = np.arange(1, 41)
        return list(final * (1 - 0.8 * np.exp(-t / 5.0)))

    rule = EarlyStopping(total_epochs=40, threshold=0.05, method="pow3")
    res = search(space, "random", FunctionEvaluator(curve), budget=25, seed=0, early_stopping=rule, check_every=5)
    h = res.history
    assert h["stopped"].any() and (h.loc[h["stopped"], "epochs"] < 40).all()
    assert (h.loc[~h["stopped"], "epochs"] == 40).all()
    finals = {s: curve(space.from_string(s))[-1] for s in h["arch"]}
    assert res.best.value == max(finals.values())  # the best architecture was never stopped
    assert not h.loc[h["arch"] == res.best.arch, "stopped"].iat[0]


# ------------------------------------------------------------------ resume after a kill
RESUME_SCRIPT = textwrap.dedent("""
    import sys, time
    import pandas as pd
    from archscore.search import search, TabularEvaluator
    table = pd.read_csv(sys.argv[1])
    ev = TabularEvaluator(table, target="valid", report="test", space="nb201")
    search("nb201", sys.argv[3], ev, budget=int(sys.argv[4]), seed=5, out=sys.argv[2], callback=lambda row: time.sleep(0.15))
""")


@pytest.mark.parametrize("strategy", ["rea", "reinforce"])
def test_resume_after_sigkill_gives_the_uninterrupted_history(strategy, table, ev, tmp_path):
    csv_path = tmp_path / "table.csv"
    table.to_csv(csv_path, index=False)
    out = tmp_path / "run"
    budget = 40
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", RESUME_SCRIPT, str(csv_path), str(out), strategy, str(budget)], env=env)
    hist = out / "history.csv"
    deadline = time.time() + 120
    while time.time() < deadline:
        if hist.exists() and hist.read_text().count("\n") >= 12:
            break
        if proc.poll() is not None:
            pytest.fail("the search subprocess ended before it could be killed")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_before = hist.read_text().count("\n") - 1
    assert 0 < n_before < budget
    resumed = search("nb201", strategy, ev, budget=budget, seed=5, out=out)
    straight = search("nb201", strategy, ev, budget=budget, seed=5)
    pd.testing.assert_frame_equal(resumed.history, straight.history)
    on_disk = pd.read_csv(hist)
    assert list(on_disk["arch"]) == list(straight.history["arch"])


def test_neighbours_are_all_one_op_changes():
    space = get_space("nb201")
    arch = space.sample(1, seed=4)[0]
    nbrs = neighbours(space, arch)
    assert len(nbrs) == 6 * 4 and len({space.to_string(a) for a in nbrs}) == 24
    base = space.cell_ops(arch)
    for a in nbrs:
        assert sum(x != y for x, y in zip(base, space.cell_ops(a))) == 1


def test_training_evaluator_really_trains_and_records_curves():
    from archscore.search import TrainingEvaluator

    ev = TrainingEvaluator("train:short", data_path="digits", epochs=2, limit=120, resolution=8, space_options={"C": 2, "N": 1},
                           seed=0, progress=False, num_threads=1)
    res = search("nb201", "random", ev, budget=2, seed=0)
    h = res.history
    assert len(h) == 2 and (h["epochs"] == 2).all() and (h["cost"] > 0).all()
    assert h["value"].between(0, 100).all() and (h["error"] == "").all()
    first = get_space("nb201").from_string(h["arch"][0])
    again = ev.evaluate(first)  # same seed, same training: the same curve, and its last point is the value
    assert len(again.curve) == 2 and again.curve[-1] == pytest.approx(again.value) == pytest.approx(h["value"][0])


def test_bananas_candidates_mutate_the_best_and_skip_queried():
    from archscore.search import Evaluation, SearchContext
    from archscore.search.strategies import Bananas

    space = get_space("nb201")
    ctx = SearchContext(space, np.random.default_rng(0), None, [], (), 50)
    archs = space.sample(5, seed=3)
    for i, a in enumerate(archs):
        ctx.results[space.to_string(a)] = Evaluation(float(i))
    best = archs[-1]
    strat = Bananas(n_candidates=40, neighbourhood=True, n_parents=1)
    strat.start(ctx)
    cands = strat._candidates()
    keys = [space.to_string(a) for a in cands]
    nbr_keys = {space.to_string(a) for a in neighbours(space, best)} - set(ctx.results)
    assert nbr_keys <= set(keys[: len(nbr_keys)])  # the whole neighbourhood of the best comes first
    assert len(keys) == len(set(keys)) and not set(keys) & set(ctx.results)  # distinct, none already queried
    base = space.cell_ops(best)
    for a in cands[len(nbr_keys):]:  # the rest: 1 or 2 mutations of the best
        assert 1 <= sum(x != y for x, y in zip(base, space.cell_ops(a))) <= 2
