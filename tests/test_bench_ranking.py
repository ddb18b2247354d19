"""The applications rank proxy scores only through ``rank_aggregate``; rank statistics are unchanged by it."""

import numpy as np
import pytest
from scipy.stats import kendalltau, rankdata

from archscore import metrics
from archscore.bench.ranking import ENSEMBLE, ensemble_scores, oriented, rank_scores
from archscore.predictors.zc_ensemble import DEFAULT_PROXIES, rank_aggregate


def test_rank_scores_by_hand():
    got = rank_scores(np.array([3.0, -np.inf, 3.0, np.inf, 0.5]))
    np.testing.assert_array_equal(got, np.array([3.5, 1.0, 3.5, 5.0, 2.0]) / 5)
    assert np.isfinite(got).all()


def test_rank_statistics_equal_those_of_plain_ranks():
    rng = np.random.default_rng(1)
    y = rng.normal(size=60)
    s = np.round(rng.normal(size=60), 1)  # ties
    s[[3, 7]], s[11] = -np.inf, np.inf
    r = rank_scores(s)
    assert metrics.spearman(y, r) == metrics.spearman(y, rankdata(s))
    assert metrics.kendall(y, r) == kendalltau(y, rankdata(s), variant="b").statistic


def test_orientation_and_ensemble_follow_the_registry():
    v = np.array([1.0, 2.0, 3.0])
    assert list(oriented("synflow", v)) == [1.0, 2.0, 3.0]  # higher is better
    assert list(oriented(ENSEMBLE, v)) == [1.0, 2.0, 3.0]
    rng = np.random.default_rng(0)
    cols = {p: rng.normal(size=5) for p in DEFAULT_PROXIES}
    valid = [True, True, False, True, True]
    want = rank_aggregate(cols, {p: True for p in DEFAULT_PROXIES}, valid=valid)  # all four: higher is better
    np.testing.assert_array_equal(ensemble_scores(cols, valid), want)
    assert ensemble_scores(cols, valid)[2] < min(np.delete(want, 2))
    with pytest.raises(KeyError):
        ensemble_scores({"meco": cols["meco"]}, valid)


def test_with_aggregates_adds_az_nas_only_when_its_four_proxies_are_there():
    from archscore.bench.ranking import AZ_NAS, with_aggregates
    from archscore.proxies.az_nas import AZ_NAS_PROXIES

    rng = np.random.default_rng(1)
    y = rng.normal(size=60)
    cols = {p: y + rng.normal(0, 1, 60) for p in DEFAULT_PROXIES}
    out = with_aggregates(cols, ["meco"])
    assert list(out) == ["meco", ENSEMBLE]  # no AZ-NAS proxies computed: no AZ-NAS row
    # az_trainability ranks nearly against flops: zc:ensemble's anchor would drop it, AZ-NAS's aggregate keeps all four
    cols |= {"az_expressivity": y + rng.normal(0, 1, 60), "az_progressivity": rng.normal(size=60), "az_trainability": -cols["flops"]}
    out = with_aggregates(cols, ["meco"], valid=[True] * 59 + [False])
    assert list(out) == ["meco", ENSEMBLE, AZ_NAS]
    want = rank_aggregate({p: cols[p] for p in AZ_NAS_PROXIES}, valid=[True] * 59 + [False])
    np.testing.assert_array_equal(out[AZ_NAS], want)
    assert list(oriented(AZ_NAS, np.array([3.0, 1.0]))) == [3.0, 1.0]


def test_best_combination_picks_the_first_best_subset_with_the_labels():
    from archscore.bench.ranking import best_combination

    y = np.arange(6.0)
    cols = {"meco": y.copy(), "jacov": y[::-1].copy(), "synflow": y.copy()}
    combo, scores = best_combination(cols, y, ["meco", "jacov", "synflow"])
    # ("meco", "synflow") has Spearman 1; ("meco", "jacov") comes first, but its log-rank is symmetric in y (Spearman 0)
    assert combo == ("meco", "synflow")
    np.testing.assert_allclose(scores, np.log((y + 1) / 6))  # both ranks r/n, mean of their logs
    assert best_combination(cols, y, ["meco"]) is None
    assert best_combination(cols, y, ["meco", "jacov"], sizes=(2,))[0] == ("meco", "jacov")
