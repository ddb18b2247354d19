"""Each named contract check fires (raises AssertionError) on a deliberately broken estimator or encoding.

The broken classes below are correct in every respect but one, and a correct
reference passes every check, so each failure is the check's own doing.
"""

from __future__ import annotations

import numpy as np
import pytest

from archscore.base import Estimator, Tags
from archscore.encodings import Encoding
from archscore.testing import (
    ENCODING_CHECKS,
    ESTIMATOR_CHECKS,
    check_clone_get_params_roundtrip,
    check_comparable_across_calls,
    check_deterministic_under_seed,
    check_dict_unchanged,
    check_encoding,
    check_encoding_missing_context,
    check_encoding_not_fitted_error,
    check_encoding_params,
    check_encoding_pickle_roundtrip,
    check_encoding_transform_unchanged,
    check_fit_keeps_params,
    check_fit_returns_self,
    check_init_stores_params_only,
    check_inputs_not_mutated,
    check_missing_context_errors,
    check_not_fitted_error,
    check_order_equivariant,
    check_pickle_roundtrip,
    check_predict_shape_finite,
    check_return_std,
    check_tags_typed,
)


class Good(Estimator):
    """Learns the mean target; scores a cell by its number of conv ops plus that mean; std = 1."""

    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.requires_fit = True
        tags.output.supports_std = True
        return tags

    def __init__(self, k: float = 1.0) -> None:
        self.k = k

    def _fit(self, archs, y, **context):
        self.mean_ = float(np.mean(y))

    def _predict(self, archs, return_std: bool = False, **context):
        mean = np.array([self.k * sum(op.startswith("nor_conv") for op in a.ops) + self.mean_ for a in archs], dtype=float)
        return (mean, np.ones(len(archs))) if return_std else mean


class NeedsCurves(Good):
    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.input.needs_curves = True
        return tags

    def _predict(self, archs, return_std: bool = False, **context):
        mean = np.array([c[-1] for c in context["curves"]], dtype=float) + self.mean_
        return (mean, np.ones(len(archs))) if return_std else mean


@pytest.mark.parametrize("check", ESTIMATOR_CHECKS, ids=lambda c: c.__name__)
def test_reference_estimators_pass(check):
    check("good", Good(k=2.0))
    check("needs-curves", NeedsCurves())


# -------------------------------------------------------- broken estimators
class SharedTags(Good):
    _TAGS = Tags(requires_fit=True)

    def __archscore_tags__(self) -> Tags:
        return self._TAGS  # one object for every call and instance


class BadUnits(Good):
    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.output.units = "percent"
        return tags


class ConvertsParam(Good):
    def __init__(self, k=(1.0,)) -> None:
        self.k = list(k)  # converts instead of storing as given


class ExtraInitState(Good):
    def __init__(self, k: float = 1.0) -> None:
        self.k = k
        self.cache = {}


class LyingGetParams(Good):
    def get_params(self, deep: bool = True):
        return {"k": self.k, "offset": 0.0}  # a parameter __init__ does not take


class SetParamsReturnsNone(Good):
    def set_params(self, **params):
        super().set_params(**params)


class FitReturnsNone(Good):
    def fit(self, archs, y=None, **context):
        super().fit(archs, y, **context)


class FitChangesParam(Good):
    def _fit(self, archs, y, **context):
        super()._fit(archs, y, **context)
        self.k = self.k * 2


class NotFittedTagLies(Good):
    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.requires_fit = False  # but predict needs mean_
        return tags


class SkipsContextCheck(NeedsCurves):
    def _check_context(self, context, n, tags):  # drops the base class's validation
        pass

    def _predict(self, archs, return_std: bool = False, **context):
        mean = np.full(len(archs), self.mean_)
        return (mean, np.ones(len(archs))) if return_std else mean


class ReturnsNaN(Good):
    def _predict(self, archs, return_std: bool = False, **context):
        mean = np.full(len(archs), np.nan)
        return (mean, np.ones(len(archs))) if return_std else mean


class StoresInPredict(Good):
    def _predict(self, archs, return_std: bool = False, **context):
        self.clipped_ = np.zeros(len(archs), dtype=bool)
        return super()._predict(archs, return_std=return_std, **context)


class MutatesCurves(NeedsCurves):
    def _fit(self, archs, y, **context):
        super()._fit(archs, y, **context)
        context["curves"][0].append(0.0)


class Unpicklable(Good):
    def _fit(self, archs, y, **context):
        super()._fit(archs, y, **context)
        self.scale_ = lambda v: v  # lambdas do not pickle


class Unseeded(Good):
    def _fit(self, archs, y, **context):
        self.mean_ = float(np.mean(y)) + np.random.default_rng().normal()


class RankByPosition(Good):
    def _predict(self, archs, return_std: bool = False, **context):
        mean = np.arange(len(archs), dtype=float)
        return (mean, np.ones(len(archs))) if return_std else mean


class BatchNormalised(Good):
    """Tagged comparable across calls, but z-scores within the call."""

    def _predict(self, archs, return_std: bool = False, **context):
        mean = super()._predict(archs)
        mean = mean - mean.mean()
        return (mean, np.ones(len(archs))) if return_std else mean


class StdDisagrees(Good):
    def _predict(self, archs, return_std: bool = False, **context):
        mean = super()._predict(archs)
        return (mean + 1.0, np.ones(len(archs))) if return_std else mean


class NegativeStd(Good):
    def _predict(self, archs, return_std: bool = False, **context):
        mean = super()._predict(archs)
        return (mean, -np.ones(len(archs))) if return_std else mean


class StdWithoutTag(Good):
    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.output.supports_std = False
        return tags

    def predict(self, archs, *, return_std: bool = False, **context):  # skips the base class's guard
        out = self._predict(list(archs), return_std=return_std, **context)
        return out


BROKEN = [
    (check_tags_typed, SharedTags(), "shared object"),
    (check_tags_typed, BadUnits(), "units"),
    (check_init_stores_params_only, ConvertsParam(), "as given"),
    (check_init_stores_params_only, ExtraInitState(), "not parameters"),
    (check_clone_get_params_roundtrip, LyingGetParams(k=3.0), "clone failed"),
    (check_clone_get_params_roundtrip, SetParamsReturnsNone(), "set_params must return self"),
    (check_fit_returns_self, FitReturnsNone(), "not self"),
    (check_fit_keeps_params, FitChangesParam(), "fit changed parameter"),
    (check_not_fitted_error, NotFittedTagLies(), "not tagged requires_fit"),
    (check_missing_context_errors, SkipsContextCheck(), "did not raise"),
    (check_predict_shape_finite, ReturnsNaN(), "non-finite"),
    (check_dict_unchanged, StoresInPredict(), "clipped_"),
    (check_inputs_not_mutated, MutatesCurves(), "curves"),
    (check_pickle_roundtrip, Unpicklable(), "cannot be pickled"),
    (check_deterministic_under_seed, Unseeded(), "not deterministic"),
    (check_order_equivariant, RankByPosition(), "order"),
    (check_comparable_across_calls, BatchNormalised(), "comparable_across_calls"),
    (check_return_std, StdDisagrees(), "differs from predict"),
    (check_return_std, NegativeStd(), "bad predictive std"),
    (check_return_std, StdWithoutTag(), "not tagged supports_std"),
]


@pytest.mark.parametrize("check, broken, message", BROKEN, ids=lambda v: getattr(v, "__name__", type(v).__name__))
def test_check_fires_on_a_broken_estimator(check, broken, message):
    with pytest.raises(AssertionError, match=message):
        check(type(broken).__name__, broken)


def test_every_estimator_check_has_a_self_test():
    assert {c for c, _, _ in BROKEN} == set(ESTIMATOR_CHECKS)


def test_a_misspelt_tag_fails_when_the_class_is_defined():
    with pytest.raises(AttributeError, match="needs_dta"):
        class Typo(Estimator):  # noqa: F841 - defining it is the test
            def __archscore_tags__(self) -> Tags:
                tags = super().__archscore_tags__()
                tags.input.needs_dta = True
                return tags


# --------------------------------------------------------- broken encodings
class GoodEncoding(Encoding):
    """Number of conv ops and of nodes, per architecture."""

    uses_graph = False

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def _fit(self, archs, **context):
        self.feature_names_ = ["n_conv", "n_nodes"]

    def _transform(self, archs, **context):
        return self.scale * np.array([[sum(op.startswith("nor_conv") for op in a.ops), len(a.ops)] for a in archs], dtype=float)


class ScoresEncoding(GoodEncoding):
    needs_scores = True

    def _transform(self, archs, **context):
        return np.array([[float(len(context["scores"]))] * 2 for _ in archs])


@pytest.mark.parametrize("check", ENCODING_CHECKS, ids=lambda c: c.__name__)
def test_reference_encodings_pass(check):
    check("good", GoodEncoding(scale=2.0))
    check("scores", ScoresEncoding())


class BatchCentred(GoodEncoding):
    def _transform(self, archs, **context):
        X = super()._transform(archs)
        return X - X.mean(axis=0)


class CachesInTransform(GoodEncoding):
    def _transform(self, archs, **context):
        self.last_n_ = len(archs)
        return super()._transform(archs)


class EncodingExtraInit(GoodEncoding):
    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self.vocab_ = ()


class TransformsUnfitted(GoodEncoding):
    def transform(self, archs, **context):
        return self._transform(list(archs))


class ScoresUnchecked(ScoresEncoding):
    def _check_context(self, context):
        pass

    def _transform(self, archs, **context):
        return np.zeros((len(archs), 2))


class LambdaState(GoodEncoding):
    def _fit(self, archs, **context):
        super()._fit(archs)
        self.f_ = lambda v: v


BROKEN_ENCODINGS = [
    (check_encoding, BatchCentred(), "depends on the other architectures"),
    (check_encoding_transform_unchanged, CachesInTransform(), "last_n_"),
    (check_encoding_params, EncodingExtraInit(), "not parameters"),
    (check_encoding_not_fitted_error, TransformsUnfitted(), "did not raise"),
    (check_encoding_missing_context, ScoresUnchecked(), "did not raise"),
    (check_encoding_pickle_roundtrip, LambdaState(), "cannot be pickled"),
]


@pytest.mark.parametrize("check, broken, message", BROKEN_ENCODINGS, ids=lambda v: getattr(v, "__name__", type(v).__name__))
def test_check_fires_on_a_broken_encoding(check, broken, message):
    with pytest.raises(AssertionError, match=message):
        check(type(broken).__name__, broken)


def test_every_encoding_check_has_a_self_test():
    assert {c for c, _, _ in BROKEN_ENCODINGS} == set(ENCODING_CHECKS)
