"""The registry drives the common tests: every named check on every registered estimator and encoding."""

import numpy as np
import pytest
from sklearn.base import clone

from archscore import Estimator, create_estimator, list_estimators
from archscore.encodings import list_encodings
from archscore.testing import (
    ENCODING_CHECKS,
    ESTIMATOR_CHECKS,
    encoding_for_tests,
    estimator_for_tests,
    make_contract_inputs,
)

#: Every registered encoding, plus one concatenation (ConcatEncoding is built from names, not registered).
ENCODING_NAMES = [*list_encodings(), "path+zc"]


@pytest.mark.parametrize("check", ESTIMATOR_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", list_estimators())
def test_estimator_check(name, check):
    check(name, estimator_for_tests(name))


@pytest.mark.parametrize("check", ENCODING_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", ENCODING_NAMES)
def test_encoding_check(name, check):
    check(name, encoding_for_tests(name))


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


def test_base_class_validation():
    from sklearn.exceptions import NotFittedError

    archs, y, ctx = make_contract_inputs()
    est = _NeedsCurves(scale=2.0)
    with pytest.raises(NotFittedError, match="not fitted"):
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
