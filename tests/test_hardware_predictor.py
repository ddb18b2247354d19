"""Few-shot latency predictor: cell features, liveness, transfer from source devices."""

import numpy as np
import pytest
from scipy.stats import spearmanr

import archscore.hardware as hw
from archscore import create_estimator
from archscore.spaces import get_space

SPACE = get_space("nb201")


def test_live_nodes_and_features():
    # op nodes are numbered by edge: 1:(0,1) 2:(0,2) 3:(1,2) 4:(0,3) 5:(1,3) 6:(2,3)
    chain = SPACE.from_ops(["nor_conv_3x3", "none", "skip_connect", "none", "none", "nor_conv_1x1"])
    assert hw.live_nodes(chain) == {1, 3, 6}
    dead = SPACE.from_ops(["nor_conv_3x3", "none", "none", "none", "none", "nor_conv_1x1"])
    assert hw.live_nodes(dead) == set()  # node 2 only gets zeros: the 1x1 conv computes nothing useful
    feats = hw.CellFeatures(SPACE.ops, 6)
    F = feats.transform([chain, dead])
    k = len(SPACE.ops)  # none, skip, conv1x1, conv3x3, pool
    np.testing.assert_array_equal(F[0, :k], [3, 1, 1, 1, 0])  # op counts
    np.testing.assert_array_equal(F[0, k:2 * k], [0, 1, 1, 1, 0])  # live op counts
    np.testing.assert_array_equal(F[1, k:2 * k], [0, 0, 0, 0, 0])
    onehot = F[0, 2 * k:2 * k + 6 * k].reshape(6, k)
    assert onehot.argmax(1).tolist() == [3, 0, 1, 0, 0, 2]
    assert F.shape == (2, 2 * k + 2 * 6 * k)


def _device(archs, per_op, last_edge=0.0, seed=0):
    """A synthetic additive device: per-op costs plus a cost for a non-zero op on the last edge."""
    ops = [SPACE.cell_ops(a) for a in archs]
    noise = np.random.default_rng(seed).normal(0, 0.01, len(archs))
    return np.array([sum(per_op[o] for o in c) + last_edge * (c[5] != "none") for c in ops]) + noise


def test_transfer_from_sources_beats_no_sources():
    archs = SPACE.sample(600, seed=1)
    costs_a = {"none": 0, "skip_connect": 0.1, "nor_conv_1x1": 1.0, "nor_conv_3x3": 3.0, "avg_pool_3x3": 0.5}
    costs_b = {"none": 0, "skip_connect": 0.3, "nor_conv_1x1": 0.8, "nor_conv_3x3": 1.0, "avg_pool_3x3": 0.9}
    src_a, src_b = _device(archs[:400], costs_a, 2.0, 1), _device(archs[:400], costs_b, 0.0, 2)
    # the target mixes both sources' structures with its own scale
    target = 2 * _device(archs, costs_a, 2.0, 3) + _device(archs, costs_b, 0.0, 4) + 5
    train, test = archs[400:410], archs[410:]
    est = create_estimator("hw:latency-predictor")
    with_src = est.fit(train, target[400:410], sources={"a": (archs[:400], src_a), "b": (archs[:400], src_b)})
    rho_src = spearmanr(with_src.predict(test), target[410:])[0]
    rho_none = spearmanr(create_estimator("hw:latency-predictor").fit(train, target[400:410]).predict(test), target[410:])[0]
    assert rho_src > 0.97 and rho_src > rho_none
    assert set(with_src.source_models_) == {"a", "b"} and len(with_src.penalties_) == 3
    assert with_src.weights_.shape == (27,) and np.isclose(with_src.weights_.sum(), 1.0)
    best = create_estimator("hw:latency-predictor", averaging="best").fit(train, target[400:410], sources={"a": (archs[:400], src_a)})
    assert sorted(best.weights_.tolist()) == [0.0] * 26 + [1.0]
    tags = est.get_tags()
    assert tags.family == "hardware" and tags.requires_fit and not tags.output.higher_is_better


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
