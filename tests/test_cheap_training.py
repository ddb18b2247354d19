"""Cheap-training estimator on a tiny NB201 net: determinism, curves, data handling, errors."""

from __future__ import annotations

import numpy as np
import pytest

import archscore
from archscore.testing import TEST_SPACE

TINY = {"space": TEST_SPACE, "resolution": 8, "epochs": 2, "batch_size": 16, "progress": False, "num_threads": 1}


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(40, 32, 32, 3), dtype=np.uint8), rng.integers(0, 4, size=40)


@pytest.fixture(scope="module")
def cells():
    space = archscore.get_space("nb201")
    return [space.from_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"),
            space.from_string("|skip_connect~0|+|nor_conv_1x1~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|")]


def test_training_is_deterministic_under_a_seed(images, cells):
    a = archscore.create_estimator("train:nb201", seed=3, **TINY).fit(cells, data=images)
    b = archscore.create_estimator("train:nb201", seed=3, **TINY).fit(cells, data=images)
    pa, pb = a.predict(cells, data=images), b.predict(cells, data=images)
    np.testing.assert_array_equal(pa, pb)
    for arch in cells:
        assert len(a.curves_[arch.spec]) == 2 and a.curves_[arch.spec] == b.curves_[arch.spec]
        assert a.losses_[arch.spec] == b.losses_[arch.spec] and all(np.isfinite(a.losses_[arch.spec]))
    # the prediction without an extrapolator is the last observed accuracy (percent, 8 validation images)
    np.testing.assert_array_equal(pa, [a.curves_[c.spec][-1] for c in cells])
    assert all(v in {100 * k / 8 for k in range(9)} for v in pa)
    c = archscore.create_estimator("train:nb201", seed=4, **TINY).fit(cells[:1], data=images)
    assert c.losses_[cells[0].spec] != a.losses_[cells[0].spec]
    # an architecture not given to fit is trained at predict (same recipe and seed), and nothing is stored
    pc = c.predict(cells, data=images)
    assert list(c.curves_) == [cells[0].spec]
    np.testing.assert_array_equal(pc[1], archscore.create_estimator("train:nb201", seed=4, **TINY).predict(cells[1:], data=images))


def test_observed_curves_and_an_estimator_as_extrapolator(images, cells):
    est = archscore.create_estimator("train:nb201", extrapolator=archscore.create_estimator("lc:best"), **TINY)
    curves = est.observed_curves(cells, data=images)
    assert not hasattr(est, "curves_")  # observed without fit: trained, returned, not stored
    np.testing.assert_array_equal(est.predict(cells, data=images), [max(c) for c in curves])


def test_extrapolation_is_told_the_schedule_length_whatever_the_horizon(images, cells, monkeypatch):
    import importlib

    module = importlib.import_module("archscore.predictors.curves.extrapolate")  # the package re-exports the function

    seen = []
    real = module.extrapolate

    def spy(curve, *args, **kwargs):
        seen.append((kwargs["total_epochs"], kwargs["schedule_epochs"]))
        return real(curve, *args, **kwargs)

    monkeypatch.setattr(module, "extrapolate", spy)
    est = archscore.create_estimator("train:nb201", extrapolator="pow3", schedule_epochs=50, total_epochs=30, **{**TINY, "epochs": 3})
    est.predict(cells[:1], data=images)
    assert seen == [(30, 50)]  # horizon 30, cosine schedule over 50: no guess from their equality


def test_training_errors(images, cells):
    with pytest.raises(ValueError, match="data="):
        archscore.create_estimator("train:nb201", **TINY).predict(cells)
    with pytest.raises(TypeError, match="archs\\[1\\]"):
        archscore.create_estimator("train:nb201", **TINY).predict([cells[0], None], data=images)
    with pytest.raises(ValueError, match="schedule_epochs"):
        archscore.create_estimator("train:nb201", schedule_epochs=1, **TINY).predict(cells, data=images)
    with pytest.raises(ValueError, match="extrapolator"):
        archscore.create_estimator("train:nb201", extrapolator=3, **TINY).predict(cells[:1], data=images)
