"""Every registered estimator goes through the same contract checks."""

import numpy as np
import pytest
from sklearn.base import clone

import archscore
from archscore import Estimator, create_estimator, list_estimators
from archscore.base import register_estimator
from archscore.testing import check_estimator, make_contract_inputs


@pytest.mark.parametrize("name", list_estimators())
def test_estimator_contract(name):
    check_estimator(name)


def test_registry_lookup_errors():
    with pytest.raises(KeyError, match="did you mean 'random'"):
        create_estimator("randon")
    assert list_estimators("rand*") == ["random"]
    assert list_estimators("no-such-*") == []


class _NeedsCurves(Estimator):
    def __archscore_tags__(self):
        tags = super().__archscore_tags__()
        tags.input.needs_curves = True
        tags.requires_fit = True
        return tags

    def __init__(self, scale=1.0):
        self.scale = scale

    def _fit(self, archs, y, **context):
        self.offset_ = float(np.mean(y))

    def _predict(self, archs, **context):
        return np.array([self.scale * c[-1] + self.offset_ for c in context["curves"]])


def test_contract_catches_a_broken_estimator():
    class Mutating(Estimator):
        def __init__(self, k=1):
            self.k = k
            self.cache_ = {}  # fitted state in __init__: a contract violation

        def _predict(self, archs, **context):
            return np.zeros(len(archs))

    register_estimator("test:mutating", Mutating)
    try:
        with pytest.raises(AssertionError, match="__init__ set fitted state"):
            check_estimator("test:mutating")
    finally:
        archscore.base.ESTIMATORS._entries.pop("test:mutating")


def test_base_class_validation():
    archs, y, ctx = make_contract_inputs()
    est = _NeedsCurves(scale=2.0)
    with pytest.raises(ValueError, match="not fitted"):
        est.predict(archs, curves=ctx["curves"])
    with pytest.raises(ValueError, match="curves="):
        est.fit(archs, y)
    with pytest.raises(ValueError, match="12 targets for 3 architectures"):
        est.fit(archs[:3], y, curves=ctx["curves"][:3])
    with pytest.raises(ValueError, match="non-finite"):
        est.fit(archs, np.r_[y[:-1], np.nan], curves=ctx["curves"])
    with pytest.raises(ValueError, match="11 entries but there are 12"):
        est.fit(archs, y, curves=ctx["curves"][:11])
    with pytest.raises(TypeError, match="did you mean 'curves'"):
        est.fit(archs, y, curve=ctx["curves"])
    with pytest.raises(TypeError, match="archs\\[1\\] is a str"):
        est.fit([archs[0], "cell"], y[:2], curves=ctx["curves"][:2])
    est.fit(archs, y, curves=ctx["curves"])
    pred = est.predict(archs, curves=ctx["curves"])
    assert pred.shape == (12,)
    np.testing.assert_allclose(pred, [2 * c[-1] + y.mean() for c in ctx["curves"]])
    with pytest.raises(ValueError, match="no predictive uncertainty"):
        est.predict(archs, curves=ctx["curves"], return_std=True)
    assert clone(est).get_params() == {"scale": 2.0}
    assert not hasattr(clone(est), "offset_")
    assert est.get_tags().input.needs_curves and not est.get_tags().input.needs_data


def test_random_baseline_is_per_arch():
    archs, _, _ = make_contract_inputs()
    est = create_estimator("random", seed=1)
    full = est.predict(archs)
    np.testing.assert_array_equal(est.predict(archs[3:5]), full[3:5])
    assert not np.allclose(full, create_estimator("random", seed=2).predict(archs))
