"""zc:ensemble: the rank aggregation on hand-computed cases, and the estimator end to end on tiny nets."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

import archscore
from archscore.testing import TEST_SPACE
from archscore.predictors.zc_ensemble import DEFAULT_PROXIES, rank_aggregate

TINY = TEST_SPACE



def test_log_rank_hand_computed():
    # a ranks 1,2,3 of 3; b (lower is better) ranks 2,3,1 of 3 after negation.
    out = rank_aggregate({"a": [1.0, 2.0, 3.0], "b": [5.0, 4.0, 6.0]}, {"a": True, "b": False})
    expected = np.array([np.log(1 / 3) + np.log(2 / 3), np.log(2 / 3) + np.log(3 / 3), np.log(3 / 3) + np.log(1 / 3)]) / 2
    np.testing.assert_allclose(out, expected)


def test_mean_rank_and_log_rank_differ_as_designed():
    # Candidate 0 is best on one proxy and worst on the other; candidate 1 is middling on both.
    scores = {"a": [3.0, 2.0, 1.0], "b": [1.0, 2.0, 3.0]}
    mean = rank_aggregate(scores, method="mean_rank")
    np.testing.assert_allclose(mean, [2 / 3, 2 / 3, 2 / 3])
    log = rank_aggregate(scores)
    # log-rank is conservative: the all-round candidate beats the specialists
    assert log[1] > log[0] and log[0] == pytest.approx(log[2])


def test_ties_get_equal_scores_and_average_ranks():
    out = rank_aggregate({"a": [2.0, 2.0, 1.0, 3.0]}, method="mean_rank")
    np.testing.assert_allclose(out, [2.5 / 4, 2.5 / 4, 1 / 4, 4 / 4])


def test_invalid_and_nan_candidates():
    out = rank_aggregate({"a": [1.0, 2.0, 3.0, 9.0], "b": [np.nan, 2.0, 1.0, 9.0]}, valid=[True, True, True, False], method="mean_rank")
    # invalid candidate 3 is left out of the ranks (n = 3 for a, 2 for b) and put below everyone
    np.testing.assert_allclose(out[:3], [1 / 3, (2 / 3 + 1) / 2, (1 + 1 / 2) / 2])
    assert out[3] == pytest.approx(out[:3].min() - 1)
    # -inf ranks as the worst value, +inf as the best, with finite output
    out = rank_aggregate({"a": [-np.inf, 0.0, np.inf]})
    assert np.all(np.isfinite(out)) and out[0] < out[1] < out[2]


def test_permutation_equivariance():
    rng = np.random.default_rng(0)
    scores = {"a": rng.normal(size=20), "b": rng.integers(0, 4, 20).astype(float), "c": rng.normal(size=20)}
    valid = rng.random(20) > 0.2
    out = rank_aggregate(scores, {"c": False}, valid=valid)
    perm = rng.permutation(20)
    out_p = rank_aggregate({k: v[perm] for k, v in scores.items()}, {"c": False}, valid=valid[perm])
    np.testing.assert_allclose(out_p, out[perm])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scores": {}}, "empty"),
        ({"scores": {"a": [1, 2], "b": [1, 2, 3]}}, "lengths"),
        ({"scores": {"a": [1, 2]}, "valid": [True]}, "1 entries for 2"),
        ({"scores": {"a": [1, 2]}, "method": "median"}, "log_rank"),
        ({"scores": {"a": [1, 2]}, "higher_is_better": {"z": True}}, "'z'"),
    ],
)
def test_rank_aggregate_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rank_aggregate(**kwargs)


def _tiny_inputs(n_archs=6, seed=0):
    space = archscore.get_space("nb201")
    archs = [a for a in space.sample(40, seed=seed) if a.is_connected()][: n_archs - 1]
    archs.append(space.from_ops(["none"] * 6))  # disconnected
    g = torch.Generator().manual_seed(seed)
    data = (torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g))
    return archs, data


def test_estimator_end_to_end_on_tiny_nets():
    archs, data = _tiny_inputs(4)
    est = archscore.create_estimator("zc:ensemble", space=TINY)
    assert est.get_tags().input.needs_data and not est.get_tags().requires_fit
    pred = est.predict(archs, data=data)
    assert pred.shape == (len(archs),) and np.all(np.isfinite(pred))
    # the disconnected cell is last, strictly
    assert pred[-1] < pred[:-1].min()
    # same numbers as aggregating the proxies by hand
    from archscore.proxies import proxy_info, score_archs

    frame = score_archs(archs, *data, proxies=list(DEFAULT_PROXIES), space=TINY, seed=0, progress=False)
    direction = {p: proxy_info(p)["higher_is_better"] for p in DEFAULT_PROXIES}
    expected = rank_aggregate({p: frame[p].to_numpy(float) for p in DEFAULT_PROXIES}, direction, valid=[a.is_connected() for a in archs])
    np.testing.assert_allclose(pred, expected)
    # reversing the list reverses the predictions; the input batch is untouched
    np.testing.assert_allclose(est.predict(archs[::-1], data=data), pred[::-1])
    assert not data[0].requires_grad and data[0].grad is None


def test_estimator_parameter_errors():
    archs, data = _tiny_inputs(3)
    with pytest.raises(ValueError, match="unknown proxies \\['nope'\\]"):
        archscore.create_estimator("zc:ensemble", proxies=("nope",), space=TINY).predict(archs, data=data)
    with pytest.raises(ValueError, match="method must be one of"):
        archscore.create_estimator("zc:ensemble", method="max", space=TINY).predict(archs, data=data)
    with pytest.raises(ValueError, match="data="):
        archscore.create_estimator("zc:ensemble").predict(archs)
    est = archscore.create_estimator("zc:ensemble", proxies=("synflow", "params"), space=TINY)
    assert clone(est).get_params()["proxies"] == ("synflow", "params")
    est.fit(archs, data=data)
    assert est.proxies_ == ("synflow", "params")


def test_precomputed_scores_give_the_live_predictions_and_name_what_is_missing():
    import pandas as pd

    from archscore.proxies import score_archs

    archs, data = _tiny_inputs(5)
    est = archscore.create_estimator("zc:ensemble", proxies=["synflow", "params"], space=TINY)
    live = est.predict(archs, data=data)
    names = [archscore.get_space("nb201").to_string(a) for a in archs]
    raw = score_archs(archs, *data, proxies=["synflow", "params", "l2_norm"], space=TINY, seed=0, progress=False)
    frame = pd.DataFrame({p: raw[p].to_numpy(float) for p in ("synflow", "params", "l2_norm")}, index=names)
    # a DataFrame indexed by architecture string (extra columns ignored), the same with an arch column, or a mapping
    np.testing.assert_allclose(est.predict(archs, scores=frame), live)
    np.testing.assert_allclose(est.predict(archs, scores=frame.rename_axis("arch").reset_index()), live)
    np.testing.assert_allclose(est.predict(archs, scores=frame.to_dict(orient="index")), live)
    # the raw table the ensemble aggregates is what proxy_scores returns
    np.testing.assert_allclose(est.proxy_scores(archs, data).to_numpy(), frame[["synflow", "params"]].to_numpy())
    # hand check on 3 archs, mean_rank with params only: ranks 1..3 scaled, disconnected last
    est2 = archscore.create_estimator("zc:ensemble", proxies=["params"], method="mean_rank", space=TINY)
    manual = {n: {"params": v} for n, v in zip(names[:3], [3.0, 1.0, 2.0])}
    pred = est2.predict(archs[:3], scores=manual)
    assert list(np.argsort(-pred)) == [0, 2, 1]
    with pytest.raises(ValueError, match=r"no column for proxies \['meco'\]"):
        archscore.create_estimator("zc:ensemble", proxies=["meco", "params"]).predict(archs, scores=frame)
    with pytest.raises(ValueError, match="no entry for 1 of the 5 architectures"):
        est.predict(archs, scores=frame.iloc[1:])
    with pytest.raises(ValueError, match="needs the context keyword data="):
        est.predict(archs)


def test_anchored_proxies_drops_what_ranks_against_the_anchor():
    from archscore.predictors.zc_ensemble import anchored_proxies

    f = np.arange(60, dtype=float)
    rng = np.random.default_rng(0)
    scores = {"with": f + rng.normal(0, 5, 60), "against": -f, "flops": f}
    assert anchored_proxies(scores) == ["with", "flops"]
    # direction: a lower-is-better proxy is oriented first, so -f then agrees with flops
    assert anchored_proxies(scores, {"against": False}) == ["with", "against", "flops"]
    # threshold: Spearman exactly known. 'half' agrees on the first 30 and is reversed on the rest
    half = np.concatenate([f[:30], f[59:29:-1]])
    rho = float(np.corrcoef(half, f)[0, 1])  # both are permutations of ranks: Pearson on them is Spearman
    assert anchored_proxies({"half": half, "flops": f}, min_corr=rho - 1e-9) == ["half", "flops"]
    assert anchored_proxies({"half": half, "flops": f}, min_corr=rho + 1e-9) == ["flops"]


def test_anchored_proxies_keeps_everything_when_it_cannot_tell():
    from archscore.predictors.zc_ensemble import anchored_proxies

    f = np.arange(60, dtype=float)
    # fewer than 50 candidates with both scores defined: too noisy to act on
    assert anchored_proxies({"against": -f[:49], "flops": f[:49]}) == ["against", "flops"]
    nan_half = np.where(f < 30, -f, np.nan)
    assert anchored_proxies({"against": nan_half, "flops": f}) == ["against", "flops"]
    valid = f >= 11  # 49 valid candidates
    assert anchored_proxies({"against": -f, "flops": f}, valid=valid) == ["against", "flops"]
    assert anchored_proxies({"against": -f, "flops": f}, valid=~(f == 0)) == ["flops"]
    # no anchor column, or a constant proxy: kept
    assert anchored_proxies({"a": -f, "b": f}) == ["a", "b"]
    assert anchored_proxies({"const": np.ones(60), "flops": f}) == ["const", "flops"]


def test_ensemble_estimator_applies_the_anchor_and_none_turns_it_off():
    from archscore import create_estimator
    from archscore.predictors.zc_ensemble import rank_aggregate

    space = archscore.get_space("nb201")
    archs = [a for a in space.sample(80, seed=1) if a.is_connected()][:60]
    n = len(archs)
    assert n >= 50
    f = np.arange(n, dtype=float)
    scores = {space.to_string(a): {"flops": f[i], "snip": -f[i], "params": f[i] ** 2} for i, a in enumerate(archs)}
    est = create_estimator("zc:ensemble", proxies=("flops", "snip", "params")).fit(archs, scores=scores)
    got = est.predict(archs, scores=scores)
    expected = rank_aggregate({"flops": f, "params": f ** 2})  # snip ranks them against flops: left out
    np.testing.assert_allclose(got, expected)
    off = create_estimator("zc:ensemble", proxies=("flops", "snip", "params"), anchor=None).fit(archs, scores=scores).predict(archs, scores=scores)
    np.testing.assert_allclose(off, rank_aggregate({"flops": f, "snip": -f, "params": f ** 2}))


def test_anchored_proxies_length_mismatch_is_a_clear_error():
    from archscore.predictors.zc_ensemble import anchored_proxies

    with pytest.raises(ValueError, match="one value per candidate"):
        anchored_proxies({"a": np.zeros(60), "flops": np.zeros(59)})
    with pytest.raises(ValueError, match="valid 3"):
        anchored_proxies({"a": np.zeros(60), "flops": np.zeros(60)}, valid=[True] * 3)


def test_az_nas_score_is_the_ensemble_of_its_four_proxies():
    from archscore.proxies import proxy_info, score_archs
    from archscore.proxies.az_nas import AZ_NAS_PROXIES

    archs, data = _tiny_inputs(5)
    pred = archscore.create_estimator("zc:ensemble", proxies=AZ_NAS_PROXIES, anchor=None, space=TINY).predict(archs, data=data)
    frame = score_archs(archs, *data, proxies=list(AZ_NAS_PROXIES), space=TINY, seed=0, progress=False)
    direction = {p: proxy_info(p)["higher_is_better"] for p in AZ_NAS_PROXIES}
    expected = rank_aggregate({p: frame[p].to_numpy(float) for p in AZ_NAS_PROXIES}, direction, valid=[a.is_connected() for a in archs])
    np.testing.assert_allclose(pred, expected)
    assert pred[-1] < pred[:-1].min()  # the disconnected cell
