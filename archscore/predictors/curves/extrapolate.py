"""Extrapolate one learning curve, and the early-stopping rule built on it.

:func:`extrapolate` predicts the accuracy at any epoch from a partial curve,
with a predictive interval; :func:`probability_of_improvement` and
:class:`EarlyStopping` turn that into the termination rule of Domhan et al.
(IJCAI 2015): stop a run when the probability that its final accuracy beats
the best seen so far falls below a threshold (5% in the paper).

Input rules are those of :mod:`archscore.predictors.curves._checks`: NaN marks
a missing epoch, ``scale="auto"`` reads values above 1 as percent, a curve
longer than ``total_epochs`` is an error, and parametric methods need at
least :data:`MIN_POINTS` finite values. Predictions outside the valid range
``[0, scale]`` are clipped; the clipping is logged (warning) and reported in
:attr:`Extrapolation.clipped`.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, NamedTuple, Sequence, Union

import numpy as np
from scipy.stats import norm

from archscore.predictors.curves._checks import as_curve, check_range, check_total_epochs, resolve_scale
from archscore.predictors.curves.parametric import FAMILY_NAMES, combine, cosine_lr, cumulative_lr, fit_family, schedule_time
from archscore.registry import unknown_choice_error

logger = logging.getLogger(__name__)

#: Methods of :func:`extrapolate`: the two baselines, the eleven families and their combinations.
METHODS: tuple[str, ...] = ("last", "best", *FAMILY_NAMES, "combo", "combo_uniform", "combo_evidence")
#: The combinations and their family weights: ``combo`` (the default) and its
#: alias ``combo_uniform`` keep the prior's equal weights; ``combo_evidence``
#: uses the posterior family weights (the original Bayesian model average).
COMBOS: dict[str, str] = {"combo": "uniform", "combo_uniform": "uniform", "combo_evidence": "evidence"}
#: Named learning-rate schedules (besides None and a callable); see :func:`extrapolate`.
#: ``"none"`` is the same as None (no assumption); ``"constant"`` models the same way.
SCHEDULES: tuple[str, ...] = ("none", "constant", "cosine", "step")
#: ``"step"``: the rate is multiplied by 0.1 after these fractions of ``schedule_epochs`` (the
#: common ResNet recipe, e.g. epochs 100 and 150 of 200).
STEP_MILESTONES: tuple[float, ...] = (0.5, 0.75)
#: A schedule: a name of :data:`SCHEDULES`, ``lr(epochs) -> relative rates`` or None.
Schedule = Union[str, Callable[[np.ndarray], Any], None]
#: Default SGD-noise gains of the cosine-schedule model (the error at full learning rate is
#: ``1 + g`` times the annealed one), an equal-weight prior over three values. Centre and spread
#: chosen by 5-fold cross-validation over the 200 NB201 curves (mean CRPS of the predictive on the
#: training folds, pooled over k = 10, 20, 50, 100; centres 0.4-1.2, spreads 0-0.6): every fold
#: picked centre 0.8, spreads 0.4 or 0.6; all curves together pick 0.6.
NOISE_GAIN: tuple[float, ...] = (0.2, 0.8, 1.4)


def _check_gains(noise_gain) -> tuple[float, ...]:
    """``noise_gain`` as a non-empty tuple of finite numbers >= 0, or a ValueError."""
    vals = noise_gain if isinstance(noise_gain, (tuple, list, np.ndarray)) else (noise_gain,)
    ok = len(vals) > 0 and all(not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating)) and 0 <= v < np.inf for v in vals)
    if not ok:
        raise ValueError(f"noise_gain must be a finite number >= 0 or a non-empty sequence of them, got {noise_gain!r}")
    return tuple(float(v) for v in vals)


def method_defaults(method: str) -> dict[str, Any]:
    """``envelope`` and ``temperature`` that a method uses when they are left None.

    ``combo``/``combo_uniform``: the best-so-far curve and the effective-sample-size
    temperature (``"auto"``); ``combo_evidence``, the single families and the
    baselines: the raw curve and the plain likelihood (temperature 1). No
    method assumes a learning-rate schedule: ``schedule`` is None (no
    assumption) unless the caller names one.
    """
    if COMBOS.get(method) == "uniform":
        return {"envelope": True, "temperature": "auto", "schedule": None}
    return {"envelope": False, "temperature": 1.0, "schedule": None}


class _LrModel(NamedTuple):
    """Relative learning rate ``lr(t)`` at the end of epoch ``t`` and the cumulative rate ``cum(t)``."""

    lr: Callable[[np.ndarray], np.ndarray]
    cum: Callable[[np.ndarray], np.ndarray]


def _tabulated(rates: np.ndarray) -> _LrModel:
    """An :class:`_LrModel` from the rates of epochs ``1..S`` (kept at the last rate after ``S``)."""
    S = rates.size
    grid = np.arange(0, S + 1, dtype=float)
    cum = np.concatenate([[0.0], np.cumsum(rates)])

    def lr(e):
        return np.interp(np.asarray(e, dtype=float), grid[1:], rates)

    def cumulative(e):
        e = np.asarray(e, dtype=float)
        return np.interp(np.minimum(e, S), grid, cum) + np.maximum(e - S, 0.0) * rates[-1]

    return _LrModel(lr, cumulative)


def lr_model(schedule: Schedule, schedule_epochs: int) -> _LrModel | None:
    """The learning-rate model of ``schedule`` over ``schedule_epochs``, or None for no schedule model.

    None, ``"none"`` and ``"constant"``: no model (a constant rate leaves
    nothing to anneal: the curve is fitted against the epoch). ``"cosine"``:
    :func:`~.parametric.cosine_lr` and its closed-form cumulative sum.
    ``"step"``: rate 1, times 0.1 after each of :data:`STEP_MILESTONES`
    (fractions of ``schedule_epochs``). A callable ``lr(epochs)``: called once
    on ``epochs = 1..schedule_epochs`` (an int array), returns the rate of each
    epoch (any positive scale; divided by its maximum).
    """
    if schedule is None or (isinstance(schedule, str) and schedule in ("none", "constant")):
        return None
    if isinstance(schedule, str):
        if schedule == "cosine":
            return _LrModel(lambda e: cosine_lr(e, schedule_epochs), lambda e: cumulative_lr(e, schedule_epochs))
        if schedule == "step":
            e = np.arange(1, schedule_epochs + 1)
            rates = 0.1 ** sum((e > m * schedule_epochs).astype(float) for m in STEP_MILESTONES)
            return _tabulated(rates)
        raise unknown_choice_error("learning-rate schedule", schedule, SCHEDULES)
    if callable(schedule):
        e = np.arange(1, schedule_epochs + 1)
        try:
            rates = np.asarray(schedule(e), dtype=float).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"schedule callable must map an array of epochs 1..{schedule_epochs} to learning rates: {exc}") from exc
        if rates.shape != (schedule_epochs,) or not np.all(np.isfinite(rates)) or np.any(rates < 0) or not rates.max() > 0:
            raise ValueError(f"schedule callable must return {schedule_epochs} finite rates >= 0, not all 0, for epochs 1..{schedule_epochs}")
        return _tabulated(rates / rates.max())
    raise ValueError(f"schedule must be None, one of {SCHEDULES} or a callable lr(epochs), got {schedule!r}")
#: Fewest finite points a parametric method accepts.
MIN_POINTS = 3


class Extrapolation(NamedTuple):
    """Predicted accuracy at one epoch, in the curve's scale.

    ``low``/``high`` bound the central ``level`` predictive interval (Gaussian
    approximation); they are NaN for the baselines, which have no predictive
    distribution. ``clipped`` is true when the raw prediction left
    ``[0, scale]`` and was clipped.
    """

    mean: float
    std: float
    low: float
    high: float
    clipped: bool
    scale: float


def _points(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    epochs = np.arange(1, arr.size + 1, dtype=float)
    ok = np.isfinite(arr)
    return epochs[ok], arr[ok]


def extrapolate_fraction(
    values: np.ndarray,
    at_epoch: int,
    schedule_epochs: int,
    *,
    method: str = "combo",
    time: str = "epoch",
    temperature: float | str | None = None,
    envelope: bool | None = None,
    schedule: Schedule = None,
    noise_gain: float | Sequence[float] = NOISE_GAIN,
) -> tuple[float, float, bool]:
    """Core of :func:`extrapolate` on a validated curve in fractions: (mean, std, clipped).

    ``at_epoch`` is the epoch to predict; ``schedule_epochs`` the length of the
    cosine learning-rate schedule the run follows (used by the cosine schedule
    model and the cosine time only).

    ``std`` is NaN for the baselines; ``temperature``/``envelope`` None take
    the method's defaults (:func:`method_defaults`); ``schedule`` None assumes no schedule.
    """
    if method not in METHODS:
        raise unknown_choice_error("extrapolation method", method, METHODS)
    defaults = method_defaults(method)
    temperature = defaults["temperature"] if temperature is None else temperature
    envelope = defaults["envelope"] if envelope is None else bool(envelope)
    model = lr_model(schedule, schedule_epochs)
    gains = _check_gains(noise_gain)
    epochs, y = _points(values)
    if method in ("last", "best"):
        if envelope:
            y = np.maximum.accumulate(y)
        return (float(y[-1]) if method == "last" else float(y.max())), float("nan"), False
    if y.size < MIN_POINTS:
        raise ValueError(f"method {method!r} needs at least {MIN_POINTS} finite points of the curve, got {y.size}; use method='last' for shorter curves")
    if time == "both" and method not in COMBOS:
        raise ValueError(f"time='both' needs a combination method ({', '.join(COMBOS)}), got method {method!r}")
    y_last, y_raw = float(y[-1]), y
    if model is not None and time != "epoch":
        raise ValueError(f"schedule={schedule!r} sets its own abscissa (the cumulative learning rate); use time='epoch', got time={time!r}")
    if int(np.argmax(y_raw)) == 0:
        # No improvement after the first observed point (a decreasing or constant curve, e.g. all zeros): no
        # family extrapolates that honestly, so it is predicted flat, at its best value when fitting the
        # best-so-far curve and at its last value otherwise; the std is the spread of the observed values.
        flat = float(y_raw.max()) if envelope else y_last
        return flat, float(max(np.std(y_raw), 0.01)), False

    def abscissa(e, warp):
        return model.cum(e) if model is not None else schedule_time(e, schedule_epochs, warp)

    # schedule-aware model: annealed accuracy a(S) on the cumulative learning rate S, observed with an
    # SGD-noise excess error, 1 - y(t) = (1 - a(S(t))) (1 + g lr(t)); several gains g = an equal-weight
    # prior over g, i.e. a mixture of the models
    comps: list[tuple[float, float]] = []
    for g in (gains if model is not None else (0.0,)):
        yg = 1.0 - (1.0 - y_raw) / (1.0 + g * model.lr(epochs)) if model is not None else y_raw
        gain_at = 1.0 + g * float(model.lr(np.array([at_epoch]))[0]) if model is not None else 1.0
        if envelope:  # fit the best-so-far curve (the upper envelope of a noisy curve)
            yg = np.maximum.accumulate(yg)
        if method in COMBOS:
            # time="both": equal prior weights on the epoch and the cosine abscissa (two hypotheses on
            # how the schedule maps epochs to progress)
            for warp in (("epoch", "cosine") if time == "both" else (time,)):
                pred = combine(abscissa(epochs, warp), yg, float(abscissa(np.array([at_epoch]), warp)[0]), temperature=temperature,
                               family_weights=COMBOS[method])
                if pred.weights:
                    comps.append((1.0 - (1.0 - pred.mean) * gain_at, pred.std * gain_at))
        else:
            x = abscissa(epochs, time)
            at = float(abscissa(np.array([at_epoch]), time)[0])
            fit = fit_family(method, x, yg)
            if fit is not None:
                std = combine(x, yg, at, families=(method,), temperature=temperature).std
                std = std if np.isfinite(std) else fit.sigma
                # back to the observed scale at the target epoch (identity at the end of the schedule)
                comps.append((1.0 - (1.0 - float(fit(at)[0])) * gain_at, std * gain_at))
    if not comps:
        if method in COMBOS:  # every family left [0, 1] at the horizon
            logger.warning("no curve family gives a valid accuracy at epoch %d; falling back to the last observed value", at_epoch)
        else:
            logger.warning("family %s could not be fitted; falling back to the last observed value", method)
        return y_last, float(max(np.std(y_raw), 0.01)), True
    means = np.array([c[0] for c in comps])
    mean = float(means.mean())
    # mixture variance: mean of the component variances + variance of the component means
    std = float(np.sqrt(max(np.mean([c[1] ** 2 for c in comps]) + np.mean((means - mean) ** 2), 0.0)))
    clipped = not (0.0 <= mean <= 1.0) or not np.isfinite(mean)
    if clipped:
        logger.warning("%s extrapolation %.4g at epoch %d is outside [0, 1] (fraction); clipped", method, mean, at_epoch)
        mean = float(np.clip(np.nan_to_num(mean, nan=y_last), 0.0, 1.0))
    return float(mean), float(std), clipped


def extrapolate(
    curve: Sequence[float],
    at_epoch: int | None = None,
    *,
    total_epochs: int,
    schedule_epochs: int | None = None,
    method: str = "combo",
    level: float = 0.9,
    scale: Any = "auto",
    time: str = "epoch",
    temperature: float | str | None = None,
    envelope: bool | None = None,
    schedule: Schedule = None,
    noise_gain: float | Sequence[float] = NOISE_GAIN,
) -> Extrapolation:
    """Predict the accuracy at ``at_epoch`` from a partial per-epoch curve.

    Parameters
    ----------
    curve : sequence of float
        Accuracy after epochs 1, 2, ...; NaN marks a missing epoch.
    at_epoch : int, optional
        Epoch to predict (1-based); default ``total_epochs``.
    total_epochs : int
        Length of the full training run, whose last epoch is predicted by
        default (the curve may not be longer).
    schedule_epochs : int, optional
        Length of the cosine learning-rate schedule the run follows; default
        ``total_epochs``. Only the cosine schedule model and the cosine time
        read it (after ``schedule_epochs`` the rate is zero).
    method : str, default="combo"
        ``"last"``, ``"best"``, one of the eleven families
        (:data:`~archscore.predictors.curves.parametric.FAMILY_NAMES`),
        ``"combo"``, their combination with the prior's equal family weights
        (each family averaged over its own grid posterior; ``"combo_uniform"``
        is an alias), or ``"combo_evidence"``, the Bayesian model average with
        posterior family weights.
    level : float, default=0.9
        Coverage of the predictive interval.
    scale : "auto", 1 or 100
        Accuracy scale; ``"auto"`` reads a curve whose maximum exceeds 1 as percent.
    time : {"epoch", "cosine", "both"}
        Abscissa of the fit, see :func:`~archscore.predictors.curves.parametric.schedule_time`;
        ``"both"`` (combinations only) mixes the epoch and the cosine
        abscissa with equal weights (mean and variance of the two-component mixture).
    temperature : float, "auto" or None, default=None
        Likelihood temperature of the posterior (> 1 widens the interval;
        ``"auto"``: ``n / n_eff`` from the lag-1 autocorrelation of the best
        fit's residuals). None: ``"auto"`` for ``combo``, 1 otherwise.
    envelope : bool or None, default=None
        Fit the best-so-far curve (running maximum) instead of the raw values;
        for noisy curves this fits their upper envelope. None: True for
        ``combo``, False otherwise.
    schedule : None, "cosine", "step", "constant" or callable, default=None
        The learning-rate schedule of the run. None (default): no assumption,
        the curve is fitted against the epoch (or ``time``); ``"constant"``
        (and ``"none"``) model the same way. A schedule model fits the
        annealed accuracy ``a`` on the cumulative learning rate ``S(t)`` with
        an SGD-noise excess error that shrinks with the rate:
        ``1 - y(t) = (1 - a(S(t))) (1 + g lr(t))`` (our model, after the
        annealing-area idea of Tissue et al., "Scaling law with learning rate
        annealing", 2024), so it predicts the rise a decaying rate brings.
        ``"cosine"``: cosine annealing from epoch 0 to ``schedule_epochs``
        (:func:`~.parametric.cumulative_lr`); NAS-Bench-201's runs are
        cosine-annealed, and its published numbers in ``archscore bench
        curves`` are made with ``schedule="cosine"``. ``"step"``: rate times
        0.1 after 50% and 75% of ``schedule_epochs``. A callable
        ``lr(epochs)`` gives the rate of epochs ``1..schedule_epochs``
        (see :func:`lr_model`). Only name a schedule the run really follows:
        on a constant-rate run a schedule model predicts a rise that never comes.
    noise_gain : float or sequence of float, default=(0.2, 0.8, 1.4)
        Gain ``g`` of the schedule model; a sequence is an equal-weight
        prior over its values (the predictive is the mixture). The default
        (:data:`NOISE_GAIN`) was chosen by cross-validation over NB201's
        cosine-annealed curves.

    Notes
    -----
    A curve whose best value is its first observed point (a decreasing or
    constant curve, e.g. all zeros) is not extrapolated: every parametric
    method predicts it flat, at its best value when fitting the best-so-far
    curve (``envelope``, the ``combo`` default) and at its last value
    otherwise, with the standard deviation of the observed values (at least
    0.01 in fractions) as its std.

    Returns
    -------
    Extrapolation
        ``mean``, ``std``, ``low``, ``high`` (in the curve's scale), ``clipped`` and ``scale``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(1, 21)
    >>> r = extrapolate(0.9 - 0.5 * t**-0.7, total_epochs=200, method="pow3")
    >>> round(r.mean, 4)
    0.8877
    """
    T = check_total_epochs(total_epochs, "extrapolate")
    S = T if schedule_epochs is None else check_total_epochs(schedule_epochs, "extrapolate", label="schedule_epochs")
    arr = as_curve(curve, total_epochs=T)
    s = resolve_scale(scale, arr)
    check_range(arr, s)
    at = T if at_epoch is None else at_epoch
    if isinstance(at, bool) or not isinstance(at, (int, np.integer)) or not 1 <= at <= T:
        raise ValueError(f"at_epoch must be an integer in [1, total_epochs={T}], got {at_epoch!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    mean, std, clipped = extrapolate_fraction(arr / s, int(at), S, method=method, time=time, temperature=temperature, envelope=envelope,
                                              schedule=schedule, noise_gain=noise_gain)
    if np.isfinite(std):
        z = norm.ppf(0.5 + level / 2)
        low, high = max(mean - z * std, 0.0), min(mean + z * std, 1.0)
    else:
        low = high = float("nan")
    return Extrapolation(mean * s, std * s, low * s, high * s, clipped, s)


def probability_of_improvement(
    curve: Sequence[float],
    best_so_far: float,
    *,
    total_epochs: int,
    schedule_epochs: int | None = None,
    method: str = "combo",
    scale: Any = "auto",
    time: str = "epoch",
    temperature: float | str | None = None,
    envelope: bool | None = None,
    schedule: Schedule = None,
    noise_gain: float | Sequence[float] = NOISE_GAIN,
) -> float:
    """Probability that the run's accuracy at ``total_epochs`` exceeds ``best_so_far``.

    Uses the Gaussian predictive distribution of :func:`extrapolate`;
    ``best_so_far`` is in the curve's scale; ``schedule_epochs`` as in
    :func:`extrapolate`. A curve already at or past the
    final epoch returns 1.0 or 0.0 by its last value.
    """
    if best_so_far is None or not np.isfinite(best_so_far):
        raise ValueError(f"best_so_far must be a finite accuracy, got {best_so_far!r}")
    if method in ("last", "best"):
        raise ValueError(f"method {method!r} has no predictive distribution; use a family name or 'combo'")
    r = extrapolate(curve, total_epochs=total_epochs, schedule_epochs=schedule_epochs, method=method, scale=scale, time=time, temperature=temperature, envelope=envelope,
                    schedule=schedule, noise_gain=noise_gain)
    if len(curve) >= total_epochs or not r.std > 0:
        return float(r.mean > best_so_far)
    return float(norm.sf((best_so_far - r.mean) / r.std))


class EarlyStopping:
    """Domhan et al.'s termination rule as a callable for search loops.

    ``rule(curve, best_so_far)`` returns the probability that the run beats
    ``best_so_far`` at ``total_epochs``; ``rule.should_stop(curve, best_so_far)``
    is true when that probability is below ``threshold`` (and at least
    ``min_epochs`` epochs were observed).

    Parameters
    ----------
    total_epochs : int
        Length of a full run.
    threshold : float, default=0.05
        Stop when the probability of improvement falls below this.
    min_epochs : int, default=3
        Never stop before this many epochs.
    schedule_epochs, method, scale, time, temperature, envelope, schedule, noise_gain
        As in :func:`extrapolate`.
    """

    def __init__(self, total_epochs: int, *, schedule_epochs: int | None = None, threshold: float = 0.05, min_epochs: int = MIN_POINTS, method: str = "combo",
                 scale: Any = "auto", time: str = "epoch", temperature: float | str | None = None, envelope: bool | None = None,
                 schedule: Schedule = None, noise_gain: float | Sequence[float] = NOISE_GAIN) -> None:
        self.total_epochs = check_total_epochs(total_epochs, "EarlyStopping")
        self.schedule_epochs = schedule_epochs
        if not 0 <= threshold <= 1:
            raise ValueError(f"threshold must be a probability in [0, 1], got {threshold!r}")
        self.threshold = float(threshold)
        self.min_epochs = max(int(min_epochs), MIN_POINTS)
        self.method, self.scale, self.time, self.temperature, self.envelope = method, scale, time, temperature, envelope
        self.schedule, self.noise_gain = schedule, noise_gain

    def __call__(self, curve: Sequence[float], best_so_far: float) -> float:
        return probability_of_improvement(curve, best_so_far, total_epochs=self.total_epochs, schedule_epochs=self.schedule_epochs, method=self.method,
                                          scale=self.scale, time=self.time, temperature=self.temperature, envelope=self.envelope,
                                          schedule=self.schedule, noise_gain=self.noise_gain)

    def should_stop(self, curve: Sequence[float], best_so_far: float | None) -> bool:
        """True when the run should be terminated now."""
        if best_so_far is None or np.sum(np.isfinite(np.asarray(curve, dtype=float))) < self.min_epochs:
            return False
        return self(curve, best_so_far) < self.threshold

    def __repr__(self) -> str:
        return f"EarlyStopping(total_epochs={self.total_epochs}, threshold={self.threshold}, method={self.method!r})"

