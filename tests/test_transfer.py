"""The transfer predictor on small synthetic source/target tasks."""

import logging

import numpy as np
import pytest

from archscore.metrics import kendall
from archscore.predictors.surrogate import RandomForestPredictor
from archscore.predictors.transfer import TransferPredictor, _ecdf
from archscore.spaces.nb201 import NB201Space


@pytest.fixture(scope="module")
def tasks():
    archs = [a for a in NB201Space().sample(60, seed=3) if a.is_connected()][:40]
    rng = np.random.default_rng(0)
    convs = np.array([sum(op.startswith("nor_conv") for op in a.ops) + 0.1 * (a.ops.count("nor_conv_3x3")) for a in archs])
    related = convs + rng.normal(0, 0.3, len(archs))
    noise = rng.normal(0, 1, len(archs))
    target = convs + rng.normal(0, 0.3, len(archs))
    return archs, related, noise, target


def test_ecdf_mid_ranks():
    np.testing.assert_allclose(_ecdf(np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 0.0, 9.0, 2.5])), [0.375, 0.0, 1.0, 0.5])


def test_weights_follow_the_related_source(tasks):
    archs, related, noise, target = tasks
    est = TransferPredictor(prior_weight=float("inf")).fit(archs[:10], target[:10],
                                                           sources={"related": (archs, related), "noise": (archs, noise)})
    assert est.weights_["related"] > 0.9
    assert est.taus_["related"] > est.taus_["noise"]
    assert kendall(target[10:], est.predict(archs[10:])) > 0.5


def test_single_source_without_model_reproduces_its_ranking(tasks):
    archs, related, _, target = tasks
    est = TransferPredictor(prior_weight=float("inf")).fit(archs[:8], target[:8], sources={"related": (archs, related)})
    assert est.model_ is None and est.weights_ == {"related": 1.0}
    assert kendall(related[8:], est.predict(archs[8:])) == pytest.approx(1.0)


def test_blend_share_and_unmeasured_architectures(tasks):
    archs, related, _, target = tasks
    est = TransferPredictor(prior_weight=10.0, min_labels_for_model=5, blend="count", source_model=RandomForestPredictor(n_estimators=10),
                            target_model=RandomForestPredictor(n_estimators=10)).fit(
        archs[:10], target[:10], sources={"related": (archs[:30], related[:30])})
    assert est.prior_share_ == pytest.approx(10 / 20)
    pred = est.predict(archs[30:])  # not measured by the source: its fitted surrogate fills in
    assert np.isfinite(pred).all() and "related" in est.source_models_


def test_below_twenty_labels_the_transferred_score_is_used_alone(tasks):
    archs, related, noise, target = tasks
    sources = {"related": (archs, related), "noise": (archs, noise)}
    rf = RandomForestPredictor(n_estimators=10)
    few = TransferPredictor(target_model=rf).fit(archs[:19], target[:19], sources=sources)
    assert few.model_ is None and few.prior_share_ == 1.0
    alone = TransferPredictor(prior_weight=float("inf")).fit(archs[:19], target[:19], sources=sources)
    np.testing.assert_array_equal(few.predict(archs[19:]), alone.predict(archs[19:]))
    more = TransferPredictor(target_model=rf, blend="count").fit(archs[:20], target[:20], sources=sources)
    assert more.model_ is not None and more.prior_share_ == pytest.approx(20 / 40)  # prior_weight 20 against 20 labels
    cv = TransferPredictor(target_model=rf).fit(archs[:20], target[:20], sources=sources)  # the default blend
    tp, tm = cv.cv_taus_["transferred"], cv.cv_taus_["target_model"]
    assert cv.prior_share_ == pytest.approx(tp ** 2 / (tp ** 2 + tm ** 2))


def test_no_sources_falls_back_to_the_target_surrogate(tasks, caplog):
    archs, _, _, target = tasks
    with caplog.at_level(logging.WARNING, logger="archscore.predictors.transfer"):
        est = TransferPredictor(target_model=RandomForestPredictor(n_estimators=10)).fit(archs[:10], target[:10])
    assert "without sources=" in caplog.text and est.prior_share_ == 0.0
    assert est.predict(archs[10:]).shape == (30,)


@pytest.mark.parametrize("kwargs, sources, err, msg", [
    ({}, [("a", 1)], TypeError, "sources= must be a mapping"),
    ({}, {"a": ([], [], [])}, ValueError, "must be a pair \\(archs, values\\)"),
    ({"power": 0}, None, ValueError, "power must be a finite number > 0"),
    ({}, {"a": (["x", "y"], [1.0, 2.0])}, TypeError, "archs\\[0\\] is a str"),
])
def test_bad_input(tasks, kwargs, sources, err, msg):
    archs, related, _, target = tasks
    src = {"r": (archs, related)} if sources is None else sources
    with pytest.raises(err, match=msg):
        TransferPredictor(**kwargs).fit(archs[:10], target[:10], sources=src)


def test_cv_blend_trusts_the_transferred_score_when_the_source_is_right(tasks):
    archs, related, _, target = tasks
    est = TransferPredictor(blend="cv", min_labels_for_model=5, target_model=RandomForestPredictor(n_estimators=10)).fit(
        archs[:10], target[:10], sources={"related": (archs, target + 0.01 * related)})
    assert est.cv_taus_["transferred"] > 0.8
    tp, tm = est.cv_taus_["transferred"], est.cv_taus_["target_model"]
    assert est.prior_share_ == pytest.approx(tp ** 2 / (tp ** 2 + tm ** 2))
    with pytest.raises(ValueError, match="blend must be 'count' or 'cv', got 'mean'"):
        TransferPredictor(blend="mean", target_model=RandomForestPredictor(n_estimators=10)).fit(
            archs[:10], target[:10], sources={"related": (archs, related)})
