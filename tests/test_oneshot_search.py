"""One-shot methods inside the search loop: the ``darts`` strategy and ENAS-style search over a tiny supernet (C=4, N=1, 8x8 digits)."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import torch

import archscore.oneshot as oneshot
from archscore.base import create_estimator
from archscore.oneshot.spos import SPOSEstimator
from archscore.search import FunctionEvaluator, list_strategies, search
from archscore.spaces import get_space

DARTS_TINY = dict(data_path="digits", space_options={"C": 4, "N": 1}, limit=80, resolution=8, epochs=3, batch_size=16,
                  steps_per_epoch=1, num_threads=1)
SPOS_TINY = dict(space_options={"C": 4, "N": 1}, data_path="digits", limit=80, resolution=8, steps=3, epochs=None,
                 batch_size=16, bn_batches=1, num_threads=1)


def conv_count(arch) -> float:
    """A made-up evaluator value: 3x3 convolutions plus a tenth of the 1x1 ones."""
    ops = get_space("nb201").cell_ops(arch)
    return ops.count("nor_conv_3x3") + 0.1 * ops.count("nor_conv_1x1")


@pytest.mark.parametrize("fix", [None, "drnas"])
def test_darts_strategy_queries_each_distinct_epoch_cell(fix):
    assert "darts" in list_strategies()
    sp = get_space("nb201")
    res = search("nb201", "darts", FunctionEvaluator(conv_count), budget=10, seed=4,
                 strategy_params={**DARTS_TINY, "fix": fix})
    trace = res.stats["darts_epochs"]
    assert [t["epoch"] for t in trace] == [1, 2, 3]  # every epoch reported, repeats included
    cells = [t["arch"] for t in trace]
    # one query per distinct cell, in the order the epochs found them; repeats cost nothing
    assert list(res.history["arch"]) == list(dict.fromkeys(cells))
    assert res.spent == len(set(cells)) and res.n_repeats == len(cells) - len(set(cells))
    assert list(res.history["epoch"]) == [cells.index(c) + 1 for c in res.history["arch"]]
    for t in trace:  # the evaluator's value of every epoch's cell, served from the history when repeated
        assert t["value"] == pytest.approx(conv_count(sp.from_string(t["arch"])))
        assert t["skips"] == sp.cell_ops(sp.from_string(t["arch"])).count("skip_connect")
    assert res.stats["darts_arch"] == cells[-1]
    # the strategy drives the same run as darts_search with the seed it drew from the search's generator
    direct = oneshot.darts_search(seed=res.stats["darts_seed"], fix=fix, **DARTS_TINY)
    assert [sp.to_string(g) for g in direct.genotypes] == cells
    assert [t["train_loss"] for t in trace] == pytest.approx(direct.train_losses)


def test_darts_strategy_budget_stops_the_search_and_seed_reproduces():
    kw = dict(budget=1, seed=0, strategy_params=DARTS_TINY)
    res = search("nb201", "darts", FunctionEvaluator(conv_count), **kw)
    assert len(res.history) == 1 and res.spent == 1
    assert len(res.stats["darts_epochs"]) == 1  # the search stopped once its one query was spent
    again = search("nb201", "darts", FunctionEvaluator(conv_count), **kw)
    assert list(again.history["arch"]) == list(res.history["arch"]) and again.stats["darts_seed"] == res.stats["darts_seed"]
    other = search("nb201", "darts", FunctionEvaluator(conv_count), **{**kw, "seed": 1})
    assert other.stats["darts_seed"] != res.stats["darts_seed"]


CALLS: list[str] = []


def counted_conv_count(arch) -> float:
    CALLS.append(get_space("nb201").to_string(arch))
    return conv_count(arch)


def test_darts_strategy_resumes_without_spending_recorded_queries(tmp_path):
    kw = dict(seed=4, strategy_params=DARTS_TINY)
    full = search("nb201", "darts", FunctionEvaluator(conv_count), budget=10, **kw)
    assert len(full.history) >= 2  # else the resume below would test nothing
    CALLS.clear()
    first = search("nb201", "darts", FunctionEvaluator(counted_conv_count), budget=1, out=tmp_path / "run", **kw)
    assert len(first.history) == 1 and len(CALLS) == 1
    CALLS.clear()
    resumed = search("nb201", "darts", FunctionEvaluator(counted_conv_count), budget=10, out=tmp_path / "run", **kw)
    # the supernet is retrained from the seed, the recorded query is replayed, only the new cells are evaluated
    assert list(resumed.history["arch"]) == list(full.history["arch"])
    assert CALLS == list(full.history["arch"])[1:]


def test_darts_strategy_rejects_a_space_without_supernet_and_bad_options():
    with pytest.raises(ValueError, match="cannot share weights"):
        search("nbgraph", "darts", FunctionEvaluator(lambda a: 0.0), budget=1,
               strategy_params={k: v for k, v in DARTS_TINY.items() if k != "space_options"})
    with pytest.raises(ValueError, match="first-order only"):
        search("nb201", "darts", FunctionEvaluator(conv_count), budget=1, strategy_params={**DARTS_TINY, "fix": "drnas", "order": 2})


# ------------------------------------------------------------------ ENAS-style
@pytest.fixture(scope="module")
def supernet():
    return create_estimator("oneshot:spos", **SPOS_TINY).fit()


def test_enas_search_scores_samples_with_the_supernet_without_training(supernet):
    before = {k: v.clone() for k, v in supernet.supernet_.state_dict().items()}
    with mock.patch.object(SPOSEstimator, "_fit", side_effect=AssertionError("a query trained the supernet")):
        res = oneshot.enas_search(supernet, budget=6, seed=0, strategy_params={"batch_size": 2})
        again = oneshot.enas_search(supernet, budget=6, seed=0, strategy_params={"batch_size": 2})
    assert res.strategy == "reinforce" and len(res.history) == 6 and res.spent == 6
    assert (res.history["cost"] == 1.0).all()  # one supernet prediction per query
    archs = res.archs
    np.testing.assert_allclose(res.history["value"], supernet.predict(archs))  # the value is the supernet's score
    after = supernet.supernet_.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before) and supernet.history_["steps"] == 3
    # seeded: the same seed gives the same samples and scores
    assert list(again.history["arch"]) == list(res.history["arch"])
    np.testing.assert_array_equal(again.history["value"], res.history["value"])


def test_enas_search_needs_a_fitted_supernet():
    with pytest.raises(ValueError, match="not fitted: train the supernet once"):
        oneshot.enas_search(create_estimator("oneshot:spos", **SPOS_TINY), budget=2)
    with pytest.raises(TypeError, match="fitted archscore Estimator"):
        oneshot.enas_search("oneshot:spos", budget=2)
