"""Learning-curve extrapolators: exact cases, input rules, calibration sanity, learned models."""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pytest

import archscore
from archscore.predictors.curves import (
    FAMILY_NAMES,
    EarlyStopping,
    extrapolate,
    fit_family,
    probability_of_improvement,
    schedule_time,
)
from archscore.testing import make_contract_inputs

T_EPOCHS = np.arange(1, 21, dtype=float)


def pow3(t, c=0.9, a=0.5, alpha=0.7):
    return c - a * np.asarray(t, float) ** (-alpha)


# Curves written from the paper's formulas with hand-picked parameters.
PAPER_CURVES = {
    "pow3": lambda x: 0.9 - 0.5 * x**-0.7,
    "pow4": lambda x: 0.85 - (0.5 * x + 1.0) ** -0.8,
    "log_power": lambda x: 0.88 / (1 + (x / math.exp(1.0)) ** -1.2),
    "exp4": lambda x: 0.87 - np.exp(-0.3 * x**0.6 + 0.2),
    "mmf": lambda x: 0.9 - (0.9 - 0.2) / (1 + (0.2 * x) ** 1.1),
    "janoschek": lambda x: 0.86 - (0.86 - 0.15) * np.exp(-0.15 * x**0.9),
    "weibull": lambda x: 0.84 - (0.84 - 0.1) * np.exp(-((0.12 * x) ** 0.8)),
    "vapor_pressure": lambda x: np.exp(-0.3 - 1.0 / x + 0.02 * np.log(x)),
    "ilog2": lambda x: 0.95 - 0.4 / np.log(x + 1),
    "log_log_linear": lambda x: np.log(0.3 * np.log(x) + 1.5),
    "hill3": lambda x: 0.9 * x**1.3 / (4.0**1.3 + x**1.3),
}


def test_family_table_is_complete():
    assert set(FAMILY_NAMES) == set(PAPER_CURVES) and len(FAMILY_NAMES) == 11


@pytest.mark.parametrize("name", sorted(PAPER_CURVES))
def test_each_family_recovers_its_own_curve(name):
    f = PAPER_CURVES[name]
    fit = fit_family(name, T_EPOCHS, f(T_EPOCHS))
    assert fit.sse < 1e-8
    assert fit(60.0)[0] == pytest.approx(f(60.0), abs=2e-3)


def test_pow3_exact_extrapolation_and_percent_scale():
    r = extrapolate(pow3(T_EPOCHS), total_epochs=200, method="pow3")
    assert r.mean == pytest.approx(pow3(200), abs=1e-6)
    assert r.scale == 1.0 and not r.clipped
    rp = extrapolate(100 * pow3(T_EPOCHS), total_epochs=200, method="pow3")
    assert rp.scale == 100.0 and rp.mean == pytest.approx(100 * pow3(200), abs=1e-4)
    # a prediction inside the observed range interpolates
    assert extrapolate(pow3(T_EPOCHS), 10, total_epochs=200, method="pow3").mean == pytest.approx(pow3(10), abs=1e-6)


def test_combo_on_exact_pow3_is_close_and_interval_contains_truth():
    # an epoch-time curve, not a cosine-annealed run: no schedule model
    r = extrapolate(pow3(T_EPOCHS), total_epochs=100, method="combo", level=0.9, schedule="none")
    assert abs(r.mean - pow3(100)) < 0.02
    assert r.low <= pow3(100) <= r.high and r.low < r.mean < r.high


def test_interval_widens_with_the_horizon():
    rng = np.random.default_rng(0)
    y = pow3(T_EPOCHS) + rng.normal(0, 0.01, 20)
    near = extrapolate(y, 25, total_epochs=200)
    far = extrapolate(y, 200, total_epochs=200)
    assert far.std > near.std > 0


def test_combo_calibration_on_noisy_pow3_curves():
    """90% intervals from 15 noisy points of well-specified curves cover at least 70% of the truths (all 40 here)."""
    rng = np.random.default_rng(1)
    hits, n = 0, 40
    for _ in range(n):
        c, a, al = rng.uniform(0.7, 0.95), rng.uniform(0.3, 0.6), rng.uniform(0.4, 1.2)
        y = pow3(T_EPOCHS[:15], c, a, al) + rng.normal(0, 0.01, 15)
        r = extrapolate(y, total_epochs=60, method="combo", level=0.9, schedule="none")
        hits += r.low <= pow3(60, c, a, al) <= r.high
    assert hits / n >= 0.7


def test_baselines_are_exact_and_skip_nan():
    curves = [[0.1, 0.5, 0.3], [20.0, 40.0, np.nan], [3.0]]
    last = archscore.create_estimator("lc:last").predict(None, curves=curves[:1])
    best = archscore.create_estimator("lc:best").predict([None], curves=curves[:1])
    assert last.tolist() == [0.3] and best.tolist() == [0.5]
    # NaN marks a missing epoch: the last finite value counts; one point is fine for the baselines
    np.testing.assert_array_equal(archscore.create_estimator("lc:last").predict(None, curves=curves[1:]), [40.0, 3.0])


@pytest.mark.parametrize(
    "curve, kwargs, match",
    [
        ([], {}, "empty"),
        ([np.nan, np.nan], {}, "no finite value"),
        ([0.1, np.inf, 0.3], {}, "infinite"),
        (list(pow3(np.arange(1, 31))), {"total_epochs": 20}, "more than total_epochs=20"),
        ([0.2, 0.3], {}, "at least 3"),
        ([[0.1, 0.2]], {}, "one-dimensional"),
        ([0.1, 0.2, 1.5], {"scale": 1}, "outside the valid range"),
        ([10.0, 20.0, 130.0], {}, "outside the valid range"),
        ([0.1, 0.2, 0.3], {"scale": 7}, "scale must be"),
        ([0.1, 0.2, 0.3], {"method": "pow5"}, "did you mean"),
        ([0.1, 0.2, 0.3], {"at_epoch": 0}, "at_epoch"),
        ([0.1, 0.2, 0.3], {"time": "linear"}, "time must be"),
    ],
)
def test_extrapolate_errors(curve, kwargs, match):
    kwargs = {"total_epochs": 50, **kwargs}
    with pytest.raises(ValueError, match=match):
        extrapolate(curve, **kwargs)


def test_estimator_needs_total_epochs_and_validates_curves():
    est = archscore.create_estimator("lc:pow3")
    with pytest.raises(ValueError, match="total_epochs"):
        est.predict(None, curves=[pow3(T_EPOCHS)])
    est = archscore.create_estimator("lc:combo", total_epochs=10)
    with pytest.raises(ValueError, match=r"curves\[0\] has 20 epochs, more than total_epochs=10"):
        est.predict(None, curves=[pow3(T_EPOCHS)])


def test_decreasing_and_noisy_curves_give_bounded_predictions_without_warnings():
    rng = np.random.default_rng(3)
    decreasing = np.linspace(0.8, 0.5, 15)
    noisy = np.clip(0.6 + rng.normal(0, 0.15, 15), 0, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning/OptimizeWarning may escape
        for curve in (decreasing, noisy):
            for method in ("combo", *FAMILY_NAMES):
                r = extrapolate(curve, total_epochs=200, method=method)
                assert 0.0 <= r.mean <= 1.0 and np.isfinite(r.std)
    # the families are increasing: a falling curve is not extrapolated below zero or above its start
    assert extrapolate(decreasing, total_epochs=200, method="pow3").mean <= 0.8 + 1e-9


def test_clipping_is_reported(caplog):
    # vapor pressure is unbounded above: a steep straight line extrapolates past 100%
    curve = np.linspace(0.05, 0.95, 10)
    est = archscore.create_estimator("lc:vapor_pressure", total_epochs=200)
    with caplog.at_level(logging.WARNING, logger="archscore"):
        pred = est.predict(None, curves=[curve, pow3(T_EPOCHS)])
    assert pred[0] == 1.0 and "clipped" in caplog.text
    details = est.predict_details(None, curves=[curve, pow3(T_EPOCHS)])
    assert details.clipped.tolist() == [True, False] and details.mean.tolist() == pred.tolist()
    assert not hasattr(est, "clipped_")  # predict stores nothing


def test_cosine_time_is_the_epoch_early_and_grows_late():
    x = schedule_time(np.array([1, 100, 200]), 200, "cosine")
    assert x[0] == pytest.approx(1.0, rel=1e-3) and x[1] == pytest.approx(200.0) and x[2] == pytest.approx(200 * 200)
    np.testing.assert_array_equal(schedule_time([1, 2], 200, "epoch"), [1, 2])


def test_probability_of_improvement_and_early_stopping():
    y = 100 * pow3(T_EPOCHS)  # ends near 90.2% at epoch 200
    final = 100 * pow3(200)
    p_low = probability_of_improvement(y, final - 10, total_epochs=200)
    p_mid = probability_of_improvement(y, final, total_epochs=200)
    p_high = probability_of_improvement(y, final + 10, total_epochs=200)
    assert p_low > 0.95 and p_high < 0.05 and p_low > p_mid > p_high
    rule = EarlyStopping(total_epochs=200, threshold=0.05)
    assert rule.should_stop(y, final + 10) and not rule.should_stop(y, final - 10)
    assert not rule.should_stop(y[:2], final + 10)  # fewer than min_epochs observed
    assert not rule.should_stop(y, None)
    assert rule(y, final + 10) == pytest.approx(p_high)
    with pytest.raises(ValueError, match="no predictive distribution"):
        probability_of_improvement(y, 50.0, total_epochs=200, method="last")


def test_parametric_estimator_std_and_clone():
    from sklearn.base import clone

    est = archscore.create_estimator("lc:combo", total_epochs=100, time="epoch")
    curves = [pow3(T_EPOCHS), pow3(T_EPOCHS[:12], 0.7, 0.3, 0.5)]
    mean, std = est.predict(None, curves=curves, return_std=True)
    assert mean[0] > mean[1] and np.all(std > 0)
    assert clone(est).get_params()["total_epochs"] == 100


# ----------------------------------------------------------------- learned models
def _synthetic(n=60, seed=0):
    rng = np.random.default_rng(seed)
    final = rng.uniform(60, 90, n)
    curves = [final[i] * (1 - np.exp(-np.arange(1, 16) / 5)) + rng.normal(0, 0.2, 15) for i in range(n)]
    return final, curves


def test_lc_svr_learns_a_curve_to_final_map_and_handles_lengths():
    final, curves = _synthetic()
    est = archscore.create_estimator("lc:svr", seed=0).fit(None, final[:40], curves=curves[:40])
    pred, std = est.predict(None, curves=curves[40:], return_std=True)
    assert np.mean(np.abs(pred - final[40:])) < 2.0 and np.all(std > 0)
    # shorter prefixes get their own model; longer ones are cut to the longest trained length
    assert sorted(est.models_) == [(15, False)]  # fit trains one model per training-curve length
    short = est.predict(None, curves=[c[:8] for c in curves[40:]])
    assert np.mean(np.abs(short - final[40:])) < 4.0
    assert sorted(est.models_) == [(15, False)]  # the prefix-8 model is trained for that call only
    longer = est.predict(None, curves=[np.r_[c, c[-1]] for c in curves[40:]])
    np.testing.assert_allclose(longer, pred)


def test_lc_regressor_with_encoding_falls_back_for_missing_archs():
    archs, y, ctx = make_contract_inputs()
    est = archscore.create_estimator("lc:rf", encoding="op_path_counts", min_train=4, n_estimators=20).fit(archs, y, curves=ctx["curves"])
    assert est.encoder_ is not None
    assert all(key[1] for key in est.models_)  # fitted with architecture features
    mixed = est.predict([archs[0], None], curves=ctx["curves"][:2])
    assert mixed.shape == (2,)
    # the None row uses a curves-only model trained for that call (deterministic, not stored)
    assert mixed[1] == est.predict([None], curves=ctx["curves"][1:2])[0]
    assert all(key[1] for key in est.models_)


class _CountEncoding:
    """A duck-typed encoding: number of conv ops."""

    def fit(self, archs):
        self.fitted_ = True
        return self

    def transform(self, archs):
        return np.array([[sum(op.startswith("nor_conv") for op in a.ops)] for a in archs], dtype=float)


def test_lc_regressor_accepts_any_fit_transform_encoding_and_copies_it():
    archs, y, ctx = make_contract_inputs()
    enc = _CountEncoding()
    est = archscore.create_estimator("lc:gbm", encoding=enc, min_train=4, n_estimators=20).fit(archs, y, curves=ctx["curves"])
    assert not hasattr(enc, "fitted_") and est.encoder_.fitted_  # the parameter itself stays untouched
    assert est.predict(archs, curves=ctx["curves"]).shape == (12,)


def test_lc_regressor_losses_must_be_given_consistently():
    archs, y, ctx = make_contract_inputs()
    est = archscore.create_estimator("lc:svr", min_train=4).fit(archs, y, curves=ctx["curves"], losses=ctx["losses"])
    assert est.uses_losses_
    with pytest.raises(ValueError, match="losses="):
        est.predict(archs, curves=ctx["curves"])
    with pytest.raises(ValueError, match="unknown curve regression model"):
        archscore.create_estimator("lc:svr", model="knn").fit(archs, y, curves=ctx["curves"])


def test_sotl_exact_values():
    losses = [[1.0, 2.0, 3.0], [0.5, 0.5, np.nan]]
    np.testing.assert_allclose(archscore.create_estimator("lc:sotl").predict(None, losses=losses), [-6.0, -1.0])
    np.testing.assert_allclose(archscore.create_estimator("lc:sotl-e").predict(None, losses=losses[:1]), [-3.0])
    np.testing.assert_allclose(archscore.create_estimator("lc:sotl", E=2).predict(None, losses=losses[:1]), [-5.0])
    with pytest.raises(ValueError, match="E must be"):
        archscore.create_estimator("lc:sotl", E=0).predict(None, losses=losses)
    with pytest.raises(ValueError, match="losses="):
        archscore.create_estimator("lc:sotl").predict(None, curves=[[1, 2]])


def test_bench_curves_smoke(data_dir, capsys):
    from archscore.cli import main

    csv = data_dir / "nb201" / "nb201_cifar10_curves_200archs.csv"
    if not csv.is_file():
        pytest.skip("curves CSV not in the shared data")
    assert main(["bench", "curves", "--data", str(csv), "--ks", "10", "--methods", "last", "pow3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "200 cells" in out and "pow3" in out
    assert main(["bench", "curves", "--data", str(csv), "--methods", "nope"]) == 2


def test_envelope_fits_the_best_so_far_curve():
    noisy = np.array([0.30, 0.50, 0.45, 0.60, 0.55, 0.66, 0.64, 0.70])
    a = extrapolate(noisy, total_epochs=50, method="pow3", envelope=True)
    b = extrapolate(np.maximum.accumulate(noisy), total_epochs=50, method="pow3")
    assert a.mean == b.mean
    assert a.mean > extrapolate(noisy, total_epochs=50, method="pow3").mean


def test_auto_temperature_from_residual_autocorrelation():
    from archscore.predictors.curves.parametric import auto_temperature

    # lag-1 autocorrelation 3/6 = 0.5 -> n / n_eff = 1.5 / 0.5
    assert auto_temperature(np.array([1.0, 1, 1, -1, -1, -1])) == pytest.approx(3.0)
    assert auto_temperature(np.array([1.0, -1, 1, -1])) == 1.0  # anti-correlated: no tempering
    # two long runs: lag-1 products sum to 48 - 1 = 47, rho = 47/50, tempering 1.94 / 0.06, below the cap n = 50
    assert auto_temperature(np.r_[np.ones(25), -np.ones(25)]) == pytest.approx(1.94 / 0.06)
    r = extrapolate(pow3(T_EPOCHS) + 0.01 * np.sin(T_EPOCHS / 3), total_epochs=200, temperature="auto")
    assert np.isfinite(r.std) and r.std > 0
    with pytest.raises(ValueError, match="temperature"):
        extrapolate(pow3(T_EPOCHS), total_epochs=200, temperature=-1.0)


def test_encoding_must_be_a_transformer():
    archs, y, ctx = make_contract_inputs()
    with pytest.raises(ValueError, match="fit"):
        archscore.create_estimator("lc:svr", encoding=42, min_train=4).fit(archs, y, curves=ctx["curves"])


def test_combo_uniform_gives_equal_family_weights():
    from archscore.predictors.curves import combine

    y = pow3(T_EPOCHS) + np.random.default_rng(5).normal(0, 0.01, 20)
    p = combine(T_EPOCHS, y, 200.0, family_weights="uniform")
    w = np.array(list(p.weights.values()))
    np.testing.assert_allclose(w, 1.0 / len(w))
    assert p.mean == pytest.approx(np.mean(list(p.means.values())))
    assert combine(T_EPOCHS, y, 200.0).weights != p.weights
    est = archscore.create_estimator("lc:combo-uniform", total_epochs=200, envelope=False, temperature=1.0, schedule="none")
    assert est.predict(None, curves=[y])[0] == pytest.approx(p.mean)
    with pytest.raises(ValueError, match="family_weights"):
        combine(T_EPOCHS, y, 200.0, family_weights="bic")


def test_combo_defaults_are_equal_weights_on_the_best_so_far_curve_with_auto_temperature():
    from archscore.predictors.curves import combine
    from archscore.predictors.curves.extrapolate import method_defaults

    assert method_defaults("combo") == {"envelope": True, "temperature": "auto", "schedule": None}
    assert method_defaults("combo_evidence") == method_defaults("pow3") == {"envelope": False, "temperature": 1.0, "schedule": None}
    y = pow3(T_EPOCHS) + np.random.default_rng(5).normal(0, 0.01, 20)
    env = np.maximum.accumulate(y)
    p = combine(T_EPOCHS, env, 200.0, family_weights="uniform", temperature="auto")
    r = extrapolate(y, total_epochs=200)  # the default method is combo, with no schedule assumed
    assert r == extrapolate(y, total_epochs=200, schedule="none") == extrapolate(y, total_epochs=200, schedule="constant")
    assert r.mean == pytest.approx(p.mean, abs=1e-12) and r.std == pytest.approx(p.std, abs=1e-12)
    assert archscore.create_estimator("lc:combo", total_epochs=200, schedule="none").predict(None, curves=[y])[0] == pytest.approx(p.mean, abs=1e-12)
    assert extrapolate(y, total_epochs=200, method="combo_uniform", schedule="none") == r  # alias
    # combo_evidence: posterior family weights on the raw curve, plain likelihood
    q = combine(T_EPOCHS, y, 200.0, family_weights="evidence", temperature=1.0)
    ev = archscore.create_estimator("lc:combo-evidence", total_epochs=200)
    mean, std = ev.predict(None, curves=[y], return_std=True)
    assert mean[0] == pytest.approx(q.mean, abs=1e-12) and std[0] == pytest.approx(q.std, abs=1e-12)
    # explicit settings override the method's defaults; None keeps them (clone-safe)
    raw = extrapolate(y, total_epochs=200, envelope=False, temperature=1.0, schedule="none")
    assert raw.mean == pytest.approx(combine(T_EPOCHS, y, 200.0, family_weights="uniform").mean, abs=1e-12)
    assert archscore.create_estimator("lc:combo", total_epochs=200).get_params()["envelope"] is None
    # single families keep their raw-curve default (lc:pow3 is unchanged)
    assert extrapolate(y, total_epochs=200, method="pow3") == extrapolate(y, total_epochs=200, method="pow3", envelope=False)


def test_time_both_is_the_equal_mixture_of_epoch_and_cosine():
    y = pow3(T_EPOCHS) + np.random.default_rng(7).normal(0, 0.01, 20)
    a = extrapolate(y, total_epochs=200, time="epoch", schedule="none")
    b = extrapolate(y, total_epochs=200, time="cosine")  # an explicit time warp switches the schedule model off
    m = extrapolate(y, total_epochs=200, time="both")
    assert m.mean == pytest.approx((a.mean + b.mean) / 2, abs=1e-12)
    # mixture variance = mean of the component variances + variance of the component means
    assert m.std**2 == pytest.approx((a.std**2 + b.std**2) / 2 + ((a.mean - b.mean) / 2) ** 2, rel=1e-9)
    est = archscore.create_estimator("lc:combo", total_epochs=200, time="both")
    assert est.predict(None, curves=[y])[0] == pytest.approx(m.mean, abs=1e-12)
    with pytest.raises(ValueError, match="time='both' needs a combination"):
        extrapolate(y, total_epochs=200, method="pow3", time="both")
    with pytest.raises(ValueError, match="time must be"):
        extrapolate(y, total_epochs=200, time="linear")


def test_cosine_lr_and_cumulative_lr():
    from archscore.predictors.curves.parametric import cosine_lr, cumulative_lr

    np.testing.assert_allclose(cosine_lr([0, 100, 200], 200), [1.0, 0.5, 0.0], atol=1e-15)
    e = np.arange(1, 201)
    np.testing.assert_allclose(cumulative_lr(e, 200), np.cumsum(0.5 * (1 + np.cos(np.pi * (e - 0.5) / 200))), rtol=1e-12)
    assert cumulative_lr([200], 200)[0] == pytest.approx(100.0)  # half the epochs at unit rate


def _annealed_run(c=0.9, a=0.3, al=0.5, gain=0.8, T=200):
    """A curve that follows the schedule model exactly: pow3 in cumulative lr, error inflated by 1 + gain lr(t)."""
    from archscore.predictors.curves.parametric import cosine_lr, cumulative_lr

    e = np.arange(1, T + 1)
    annealed = c - a * cumulative_lr(e, T) ** (-al)
    return 1 - (1 - annealed) * (1 + gain * cosine_lr(e, T)), annealed


def test_cosine_schedule_model_recovers_a_curve_it_generated():
    full, annealed = _annealed_run()
    prefix = full[:30]
    # at the end of the schedule the noise term vanishes: the prediction is the annealed curve
    r = extrapolate(prefix, total_epochs=200, method="pow3", schedule="cosine", noise_gain=0.8)
    assert r.mean == pytest.approx(annealed[-1], abs=1e-4) and r.mean == pytest.approx(full[-1], abs=1e-4)
    # mid-schedule the noise term is mapped back: y = 1 - (1 - a) (1 + 0.8 * 0.5) at epoch 100
    mid = extrapolate(prefix, 100, total_epochs=200, method="pow3", schedule="cosine", noise_gain=0.8)
    assert mid.mean == pytest.approx(1 - (1 - annealed[99]) * 1.4, abs=1e-4)
    # combo with schedule="cosine" uses this model, with a prior over the gain (0.2, 0.8, 1.4)
    combo = extrapolate(prefix, total_epochs=200, noise_gain=0.8, schedule="cosine")
    assert abs(combo.mean - full[-1]) < 0.02 and combo.low <= full[-1] <= combo.high
    combo = extrapolate(prefix, total_epochs=200, schedule="cosine")
    assert abs(combo.mean - full[-1]) < 0.05 and combo.low <= full[-1] <= combo.high
    assert abs(extrapolate(prefix, total_epochs=200, method="pow3").mean - full[-1]) > 0.05
    # noise_gain = 0: a plain fit on the cumulative-lr abscissa
    from archscore.predictors.curves.parametric import cumulative_lr, fit_family

    fit = fit_family("pow3", cumulative_lr(np.arange(1, 31), 200), prefix)
    assert extrapolate(prefix, total_epochs=200, method="pow3", schedule="cosine", noise_gain=0.0).mean == pytest.approx(float(fit(100.0)[0]), abs=1e-12)


def test_schedule_errors_and_estimator_params():
    y = _annealed_run()[0][:20]
    with pytest.raises(ValueError, match="schedule"):
        extrapolate(y, total_epochs=200, schedule="linear")
    with pytest.raises(ValueError, match="noise_gain"):
        extrapolate(y, total_epochs=200, noise_gain=-1.0)
    with pytest.raises(ValueError, match="use time='epoch'"):
        extrapolate(y, total_epochs=200, schedule="cosine", time="cosine")
    est = archscore.create_estimator("lc:combo", total_epochs=200, noise_gain=0.5)
    assert est.get_params()["schedule"] is None and est.get_params()["noise_gain"] == 0.5
    assert est.predict(None, curves=[y])[0] == pytest.approx(extrapolate(y, total_epochs=200, noise_gain=0.5).mean, abs=1e-12)
    assert est.predict(None, curves=[y])[0] == pytest.approx(extrapolate(y, total_epochs=200).mean, abs=1e-12)  # no gain without a schedule
    rule = EarlyStopping(total_epochs=200, schedule="none")
    assert rule(y, 0.5) == pytest.approx(probability_of_improvement(y, 0.5, total_epochs=200, schedule="none"))


def test_a_sequence_of_noise_gains_is_their_equal_mixture():
    y = _annealed_run()[0][:25]
    parts = [extrapolate(y, total_epochs=200, noise_gain=g, schedule="cosine") for g in (0.2, 0.8, 1.4)]
    mix = extrapolate(y, total_epochs=200, noise_gain=(0.2, 0.8, 1.4), schedule="cosine")
    assert mix == extrapolate(y, total_epochs=200, schedule="cosine")  # the default prior
    means = np.array([p.mean for p in parts])
    assert mix.mean == pytest.approx(means.mean(), abs=1e-12)
    assert mix.std**2 == pytest.approx(np.mean([p.std**2 for p in parts]) + means.var(), rel=1e-9)
    for bad in ([], (0.5, -0.1), "0.8", True):
        with pytest.raises(ValueError, match="noise_gain"):
            extrapolate(y, total_epochs=200, noise_gain=bad)


def test_horizon_and_schedule_length_are_separate_parameters():
    y = 100 * pow3(T_EPOCHS)
    est = archscore.create_estimator("lc:combo", total_epochs=100, schedule_epochs=200, schedule="cosine")
    want = extrapolate(y, 100, total_epochs=200, method="combo", schedule="cosine").mean  # epoch 100 of a 200-epoch cosine run
    assert est.predict(None, curves=[y])[0] == pytest.approx(want, rel=1e-12)
    # the schedule length changes the cosine schedule model's answer at the same horizon
    same = archscore.create_estimator("lc:combo", total_epochs=100, schedule="cosine").predict(None, curves=[y])[0]
    assert same == pytest.approx(extrapolate(y, total_epochs=100, method="combo", schedule="cosine").mean, rel=1e-12)
    assert same != pytest.approx(want)
    with pytest.raises(ValueError, match="schedule_epochs must be a positive integer"):
        archscore.create_estimator("lc:combo", total_epochs=100, schedule_epochs=0).predict(None, curves=[y])


def test_no_schedule_is_assumed_by_default_and_a_constant_rate_curve_is_not_lifted():
    # a constant-rate run: saturates at 0.7877 from epoch ~60 on, noise sd 0.005 (seed 0)
    t = np.arange(1, 201)
    curve = 0.7877 - 0.4 * np.exp(-t / 12.0) + np.random.default_rng(0).normal(0, 0.005, 200)
    default = extrapolate(curve[:50], total_epochs=200)
    cosine = extrapolate(curve[:50], total_epochs=200, schedule="cosine")
    # the cosine model expects the rise annealing brings and overshoots by ~10 points; the default less
    assert cosine.mean > 0.88 and cosine.low > 0.7877
    assert default.mean < cosine.mean - 0.03 and default.low <= 0.7877 <= default.high


def test_decreasing_and_all_zero_curves_are_predicted_flat():
    dec = np.linspace(0.60, 0.49, 20)
    assert extrapolate(dec, total_epochs=200).mean == pytest.approx(0.60)  # combo: best-so-far curve, flat at its best
    assert extrapolate(dec, total_epochs=200, schedule="cosine").mean == pytest.approx(0.60)
    assert extrapolate(dec, total_epochs=200, method="pow3").mean == pytest.approx(0.49)  # raw curve: flat at its last
    assert extrapolate(dec, total_epochs=200).std == pytest.approx(np.std(dec))
    zero = extrapolate(np.zeros(20), total_epochs=200)
    assert zero.mean == 0.0 and zero.std == 0.01 and zero.low == 0.0
    assert extrapolate(np.zeros(20), total_epochs=200, schedule="cosine").mean == 0.0
    assert extrapolate(100 * np.zeros(20), total_epochs=200, scale=100).mean == 0.0
    # one improvement after the first point is enough to fit
    assert extrapolate([0.5, 0.4, 0.45, 0.55], total_epochs=200, method="pow3").mean != pytest.approx(0.55)


def test_step_and_callable_schedules():
    from archscore.predictors.curves.extrapolate import lr_model
    from archscore.predictors.curves.parametric import cosine_lr, cumulative_lr

    step = lr_model("step", 8)
    np.testing.assert_allclose(step.lr(np.arange(1, 9)), [1, 1, 1, 1, 0.1, 0.1, 0.01, 0.01])
    np.testing.assert_allclose(step.cum([0, 4, 6, 8, 10]), [0, 4, 4.2, 4.22, 4.24])  # the last rate after the schedule
    assert lr_model(None, 8) is None and lr_model("constant", 8) is None
    # a callable giving cosine rates at each epoch's midpoint reproduces cumulative_lr exactly
    mid = lr_model(lambda e: 0.5 * (1 + np.cos(np.pi * (e - 0.5) / 200)), 200)
    e = np.arange(1, 201)
    np.testing.assert_allclose(mid.cum(e), cumulative_lr(e, 200) / cosine_lr([0.5], 200)[0], rtol=1e-12)
    y = _annealed_run()[0][:30]
    assert extrapolate(y, total_epochs=200, schedule=lambda ep: 2.0 * np.ones(len(ep))) == extrapolate(
        y, total_epochs=200, schedule=lambda ep: np.ones(len(ep)))  # only relative rates matter
    assert extrapolate(y, total_epochs=200, schedule="step").mean > extrapolate(y, total_epochs=200).mean  # decays lift
    for bad in (lambda ep: np.zeros(len(ep)), lambda ep: np.ones(3), lambda ep: -np.ones(len(ep)), 3):
        with pytest.raises(ValueError, match="schedule"):
            extrapolate(y, total_epochs=200, schedule=bad)


def test_load_curves_long_wide_and_list_tables(tmp_path):
    from archscore.benchmarks import load_curves

    long = tmp_path / "long.csv"
    long.write_text("run,epoch,acc\na,1,10\na,2,20\nb,1,30\nb,3,50\n")
    t = load_curves(long)
    assert t.names == ["a", "b"]
    np.testing.assert_array_equal(t.curves, [[10, 20, np.nan], [30, np.nan, 50]])
    assert [c.tolist() for c in t.as_lists()] == [[10.0, 20.0], [30.0, pytest.approx(np.nan, nan_ok=True), 50.0]]
    wide = tmp_path / "wide.csv"
    wide.write_text("name,epoch_1,epoch_2,epoch_3\nx,0.1,0.2,0.3\ny,0.5,,0.7\n")
    w = load_curves(wide)
    assert w.names == ["x", "y"]
    np.testing.assert_array_equal(w.curves, [[0.1, 0.2, 0.3], [0.5, np.nan, 0.7]])
    lst = tmp_path / "list.csv"
    lst.write_text('index,curve\n7,"[1.0, 2.0, 3.0]"\n8,"[4.0, 5.0]"\n')
    ls = load_curves(lst)
    assert ls.names == ["7", "8"]
    np.testing.assert_array_equal(ls.curves, [[1, 2, 3], [4, 5, np.nan]])
    # the loaded curves feed the curve estimators directly
    pred = archscore.create_estimator("lc:last").predict(None, curves=t.as_lists())
    np.testing.assert_array_equal(pred, [20.0, 50.0])


@pytest.mark.parametrize("text, kwargs, msg", [
    ("run,epoch,acc\na,0,10\n", {}, "integers >= 1"),
    ("run,epoch,acc\na,1.5,10\n", {}, "integers >= 1"),
    ("run,epoch,acc\na,1,10\na,1,11\n", {}, "run 'a' has epoch 1 more than once"),
    ("run,epoch,acc,loss\na,1,10,2\n", {}, "name the value column"),
    ("run,epoch,acc\na,1,ten\n", {}, "must be numbers"),
    ("a,b\n1,2\n", {}, "no per-epoch columns"),
    ("run,epoch,acc\na,1,10\n", {"format": "tall"}, "unknown curve table format 'tall'"),
    ('i,c\n1,"[1, x]"\n', {}, "not a list of numbers"),
])
def test_load_curves_errors(tmp_path, text, kwargs, msg):
    from archscore.benchmarks import load_curves

    f = tmp_path / "t.csv"
    f.write_text(text)
    with pytest.raises(ValueError, match=msg):
        load_curves(f, **kwargs)
    with pytest.raises(FileNotFoundError, match="curve table not found"):
        load_curves(tmp_path / "none.csv")


def test_load_curves_reads_the_nb201_curves_file(data_dir):
    from archscore.benchmarks import load_curves, load_nb201

    csv = data_dir / "nb201" / "nb201_cifar10_curves_200archs.csv"
    if not csv.is_file():
        pytest.skip("curves CSV not in the shared data")
    t = load_curves(csv, column="valid_acc_per_epoch")
    assert t.curves.shape == (200, 200) and np.isfinite(t.curves).all()
    first = load_nb201(csv).table["valid_acc_per_epoch"].iloc[0]
    assert t.curves[0, 0] == pytest.approx(float(first.strip("[]").split(",")[0]))
