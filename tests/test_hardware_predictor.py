"""Few-shot latency predictor: used ops, op counts, non-negative ridge, transfer from source devices."""

import numpy as np
import pytest
from scipy.stats import spearmanr

import archscore.hardware as hw
from sklearn.base import clone

from archscore import create_estimator
from archscore.spaces import get_space

SPACE = get_space("nb201")
# op nodes are numbered by edge: 1:(0,1) 2:(0,2) 3:(1,2) 4:(0,3) 5:(1,3) 6:(2,3)
CHAIN = ["nor_conv_3x3", "none", "skip_connect", "none", "none", "nor_conv_1x1"]
DEAD_BRANCH = ["nor_conv_3x3", "none", "none", "none", "none", "nor_conv_1x1"]
PRUNED = ["nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "none"]


def test_used_nodes_and_op_counts():
    assert hw.used_nodes(SPACE.from_ops(CHAIN)) == {1, 3, 6}
    # node 1's conv feeds only zero ops: nothing it computes reaches the output
    assert hw.used_nodes(SPACE.from_ops(DEAD_BRANCH)) == {6}
    # edge 2->3 is none, so the pool (0->2) and skip (1->2) into node 2 are dead code
    assert hw.used_nodes(SPACE.from_ops(PRUNED)) == {1, 4, 5}
    feats = hw.OpCountFeatures(SPACE.ops)
    assert feats.ops == ("skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")  # zero ops dropped
    present, used = feats.transform([SPACE.from_ops(o) for o in (CHAIN, DEAD_BRANCH, PRUNED)])
    np.testing.assert_array_equal(present, [[1, 1, 1, 0], [0, 1, 1, 0], [1, 1, 2, 1]])
    np.testing.assert_array_equal(used, [[1, 1, 1, 0], [0, 1, 0, 0], [0, 1, 2, 0]])
    np.testing.assert_array_equal(feats.design([SPACE.from_ops(PRUNED)], "both"), [[1, 1, 2, 1, 0, 1, 2, 0]])
    with pytest.raises(ValueError, match="not in the fitted vocabulary"):
        hw.OpCountFeatures(["skip_connect"]).transform([SPACE.from_ops(CHAIN)])


def test_nonnegative_ridge_hand_computed():
    # X = I: each coordinate is y_j / (1 + penalty_j), clipped at zero
    np.testing.assert_allclose(hw.nonnegative_ridge(np.eye(3), np.array([1.0, -1.0, 3.0]), np.array([1.0, 1.0, 0.0])), [0.5, 0.0, 3.0])


COSTS = {"skip_connect": 0.2, "nor_conv_1x1": 1.0, "nor_conv_3x3": 3.0, "avg_pool_3x3": 0.6}


def _latency(archs, costs, *, prune, overhead=2.0):
    """A noiseless additive device; with ``prune`` it skips dead ops (dead-code elimination)."""
    out = []
    for a in archs:
        keep = hw.used_nodes(a) if prune else set(a.graph)
        out.append(overhead + sum(costs.get(a.graph.nodes[n]["op"], 0.0) for n in keep))
    return np.array(out)


def _weight_of(est, structure):
    return sum(w for (s, _, _), w in zip(est.candidates_, est.weights_) if s == structure)


def test_recovers_scaled_source_device_exactly_from_few_samples():
    archs = SPACE.sample(700, seed=1)
    src_archs, train, test = archs[:400], archs[400:406], archs[406:]
    source = _latency(src_archs, COSTS, prune=True)
    # the target is the source device made 3x slower with a different fixed overhead
    target = 3 * _latency(archs, COSTS, prune=True, overhead=0.0) + 7.0
    # a near-unpenalised source model fits the noiseless additive source table exactly
    est = create_estimator("hw:latency-predictor", source_alpha=1e-6).fit(train, target[400:406], sources={"src": (src_archs, source)})
    pred = est.predict(test)
    err = np.abs(pred / target[406:] - 1)
    assert err.max() < 0.005 and spearmanr(pred, target[406:])[0] > 0.999
    # six measurements pin down the op costs far less well without the source
    alone = create_estimator("hw:latency-predictor").fit(train, target[400:406]).predict(test)
    assert np.abs(alone / target[406:] - 1).max() > 10 * err.max()
    np.testing.assert_allclose(est.source_coefs_["src"][2], source.mean() / source.std())  # scaled mean latency
    assert est.n_positions_ == 6


@pytest.mark.parametrize("prune", [True, False])
def test_picks_the_device_cost_structure(prune):
    archs = SPACE.sample(300, seed=2)
    y = _latency(archs, COSTS, prune=prune)
    est = hw.LatencyPredictor().fit(archs[:15], y[:15])
    wrong = "all" if prune else "used"
    assert _weight_of(est, wrong) < 0.01 and est.structure_ != wrong
    np.testing.assert_allclose(est.predict(archs[15:]), y[15:], rtol=0.02)
    assert len(est.candidates_) == 3 * 5 and np.isclose(est.weights_.sum(), 1.0)


def test_intercept_is_free_for_non_positive_targets():
    archs = SPACE.sample(200, seed=3)
    y = _latency(archs, COSTS, prune=True)
    shifted = hw.LatencyPredictor(structures=("used",)).fit(archs[:20], y[:20] - 100.0)
    np.testing.assert_allclose(shifted.predict(archs[20:]), y[20:] - 100.0, rtol=1e-3)
    assert shifted.coef_["used"][0] < 0  # the intercept went negative


def test_sources_help_on_a_mixed_noisy_device():
    archs = SPACE.sample(600, seed=1)
    costs_b = {"skip_connect": 0.3, "nor_conv_1x1": 0.8, "nor_conv_3x3": 1.0, "avg_pool_3x3": 0.9}
    noise = np.random.default_rng(0).normal(0, 0.05, len(archs))
    src_a, src_b = _latency(archs[:400], COSTS, prune=True), _latency(archs[:400], costs_b, prune=False)
    target = 2 * _latency(archs, COSTS, prune=True) + _latency(archs, costs_b, prune=False) + noise
    train, test = archs[400:410], archs[410:]
    est = create_estimator("hw:latency-predictor")
    fitted = clone(est).fit(train, target[400:410], sources={"a": (archs[:400], src_a), "b": (archs[:400], src_b)})
    rho_src = spearmanr(fitted.predict(test), target[410:])[0]
    rho_none = spearmanr(clone(est).fit(train, target[400:410]).predict(test), target[410:])[0]
    assert rho_src > 0.97 and rho_src > rho_none
    assert set(fitted.source_coefs_) == {"a", "b"} and len(fitted.candidates_) == 3 * 5 * 3
    best = create_estimator("hw:latency-predictor", averaging="best").fit(train, target[400:410], sources={"a": (archs[:400], src_a)})
    assert sorted(best.weights_.tolist()) == [0.0] * 44 + [1.0]
    tags = est.get_tags()
    assert tags.family == "hardware" and tags.requires_fit and not tags.output.higher_is_better
    assert not hasattr(est, "coef_")  # clone-then-fit leaves the template unfitted


def test_predictor_errors():
    archs = SPACE.sample(5, seed=0)
    est = hw.LatencyPredictor()
    with pytest.raises(ValueError, match="pair"):
        est.fit(archs, np.arange(5.0), sources={"x": archs})
    with pytest.raises(ValueError, match="2 targets for 5"):
        est.fit(archs, np.arange(5.0), sources={"x": (archs, [1.0, 2.0])})
    with pytest.raises(ValueError, match="not fitted"):
        hw.LatencyPredictor().predict(archs)
    assert not hasattr(est, "_pending_sources")
    with pytest.raises(ValueError, match="averaging must be"):
        hw.LatencyPredictor(averaging="mean").fit(archs, np.arange(5.0))
    with pytest.raises(ValueError, match="structures must be"):
        hw.LatencyPredictor(structures=("live",)).fit(archs, np.arange(5.0))
    with pytest.raises(ValueError, match="penalties must be"):
        hw.LatencyPredictor(penalties=(-1.0,)).fit(archs, np.arange(5.0))
    with pytest.raises(ValueError, match="at least 2 measured"):
        hw.LatencyPredictor().fit(archs[:1], [1.0])
