"""Parametric learning-curve families and their Bayesian combination.

The eleven families are those of Domhan, Springenberg & Hutter, "Speeding up
automatic hyperparameter optimization of deep neural networks by extrapolation
of learning curves", IJCAI 2015 (Table 1). ``x`` is the epoch (1, 2, ...) and
``y`` the accuracy as a fraction in ``[0, 1]``:

=================  ==============================================
pow3               c - a x^(-alpha)
pow4               c - (a x + b)^(-alpha)
log_power          a / (1 + (x / e^b)^c)
exp4               c - exp(-a x^alpha + b)
mmf                alpha - (alpha - beta) / (1 + (kappa x)^delta)
janoschek          alpha - (alpha - beta) exp(-kappa x^delta)
weibull            alpha - (alpha - beta) exp(-(kappa x)^delta)
vapor_pressure     exp(a + b / x + c log x)
ilog2              c - a / log(x + 1)
log_log_linear     log(a log x + b)
hill3              ymax x^eta / (kappa^eta + x^eta)
=================  ==============================================

How they are fitted (our choices; the paper samples all parameters by MCMC):

* Every family is *partially linear*: ``y = c + d g(x; theta)`` (or
  ``y = d g(x; theta)``) with one or two nonlinear parameters ``theta``. We
  fit by variable projection: for each point of a fixed log-spaced grid over
  ``theta`` the linear parameters are solved in closed form under bounds that
  keep the curve increasing and the asymptote in ``[0, 1]`` (``d <= 0`` for
  decreasing ``g``; for mmf/janoschek/weibull also the start value ``beta >= 0``).
  A point estimate is the best grid point, optionally refined by bounded least
  squares on ``theta`` (``refine=True``). The abscissa is divided by the last
  observed one first (all families but ilog2 absorb that scale in a parameter).
  pow4 is written ``c - s (r x + 1)^(-alpha)``; log_log_linear as
  ``L + log(log x + r)``; ilog2 uses ``log(x + 1)`` so that epoch 1 is finite.
* The combination (:func:`combine`) is a grid approximation of the paper's
  Bayesian model: for each family a posterior over its ``theta`` grid (uniform
  prior on the log grid, Gaussian likelihood with the linear parameters
  profiled out, noise variance from the best fit, floored), family weights
  from the grid-averaged likelihood with a BIC penalty for the linear
  parameters, and the paper's prior that the accuracy at the horizon lies in
  ``[0, 1]`` (grid points outside get zero mass). The predictive distribution
  is the resulting mixture, summarised by its mean and standard deviation.
  ``temperature`` > 1 flattens the likelihood (a tempered posterior) to widen
  the predictive spread of short prefixes; ``family_weights="uniform"`` keeps
  the prior's equal family weights instead of the posterior ones.
* ``time="cosine"`` fits the families against a schedule-aware abscissa
  (:func:`schedule_time`) instead of the raw epoch, our addition for curves
  trained under cosine annealing; :func:`cosine_lr` and :func:`cumulative_lr`
  serve the cosine-schedule model of
  :func:`~archscore.predictors.curves.extrapolate.extrapolate` (``schedule="cosine"``).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.optimize import least_squares

from archscore.registry import unknown_choice_error


def _geo(lo: float, hi: float, n: int) -> np.ndarray:
    return np.geomspace(lo, hi, n)


@dataclass(frozen=True)
class Family:
    """A partially linear family ``y = c + d g(u, x; theta)`` (``kind="affine"``) or ``y = d g`` (``kind="scale"``).

    ``u`` is the abscissa divided by the last observed one, ``x`` the raw
    abscissa; ``theta`` are 2-D arrays broadcast against ``u`` (grid x points).
    """

    name: str
    formula: str
    kind: str  # "affine": intercept c in [0, 1], slope d <= 0; "scale": y = d g with 0 <= d <= d_max; "offset": y = c + g
    basis: Callable[..., np.ndarray]
    grid: tuple[np.ndarray, ...]
    d_max: float = 1.0
    beta_nonneg: bool = False  # affine only: start value c + d >= 0 (mmf, janoschek, weibull)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family("pow3", "c - a x^(-alpha)", "affine", lambda u, x, al: u ** (-al), (_geo(0.01, 5, 80),)),
        Family("pow4", "c - (a x + b)^(-alpha)", "affine", lambda u, x, r, al: (r * u + 1.0) ** (-al), (_geo(0.01, 300, 20), _geo(0.01, 5, 24))),
        Family("log_power", "a / (1 + (x / e^b)^c)", "scale", lambda u, x, b, c: 1.0 / (1.0 + (u / np.exp(b)) ** c), (np.linspace(-4, 10, 24), -_geo(0.02, 5, 20))),
        Family("exp4", "c - exp(-a x^alpha + b)", "affine", lambda u, x, a, al: np.exp(-a * u**al), (_geo(0.01, 30, 24), _geo(0.01, 3, 20))),
        Family("mmf", "alpha - (alpha - beta) / (1 + (kappa x)^delta)", "affine", lambda u, x, k, d: 1.0 / (1.0 + (k * u) ** d), (_geo(0.01, 300, 24), _geo(0.05, 5, 20)), beta_nonneg=True),
        Family("janoschek", "alpha - (alpha - beta) exp(-kappa x^delta)", "affine", lambda u, x, k, d: np.exp(-k * u**d), (_geo(0.01, 30, 24), _geo(0.01, 5, 20)), beta_nonneg=True),
        Family("weibull", "alpha - (alpha - beta) exp(-(kappa x)^delta)", "affine", lambda u, x, k, d: np.exp(-((k * u) ** d)), (_geo(0.01, 30, 24), _geo(0.05, 5, 20)), beta_nonneg=True),
        Family("vapor_pressure", "exp(a + b / x + c log x)", "scale", lambda u, x, b, c: np.exp(b / u + c * np.log(u)), (-np.r_[0.0, _geo(0.001, 3, 23)], np.r_[0.0, _geo(0.001, 2, 19)]), d_max=np.inf),
        Family("ilog2", "c - a / log(x + 1)", "affine", lambda u, x: 1.0 / np.log(x + 1.0), ()),
        Family("log_log_linear", "log(a log x + b)", "offset", lambda u, x, r: np.log(np.log(u) + r), (_geo(0.01, 300, 80),)),
        Family("hill3", "ymax x^eta / (kappa^eta + x^eta)", "scale", lambda u, x, eta, k: u**eta / (k**eta + u**eta), (_geo(0.05, 10, 24), _geo(0.01, 100, 20))),
    ]
}

#: Names of the eleven families, in the paper's table order.
FAMILY_NAMES: tuple[str, ...] = tuple(FAMILIES)
_N_LINEAR = {"affine": 2, "scale": 1, "offset": 1}


def get_family(name: str) -> Family:
    """The family called ``name`` or a ValueError listing the known ones."""
    if name not in FAMILIES:
        raise unknown_choice_error("curve family", name, FAMILY_NAMES)
    return FAMILIES[name]


def schedule_time(epochs, total_epochs: int, time: str = "epoch") -> np.ndarray:
    """The abscissa the families are fitted against.

    ``"epoch"`` is the epoch itself. ``"cosine"`` maps epoch ``t`` of a cosine
    schedule over ``T`` epochs to ``t / lr(t)`` with the relative learning
    rate ``lr(t) = (1 + cos(pi t / T)) / 2`` floored at ``1 / T``: early on
    (``lr ~ 1``) the abscissa is the epoch, and as the rate anneals each epoch
    counts for more progress, which mimics the late rise of annealed curves.
    """
    epochs = np.asarray(epochs, dtype=float)
    if time == "epoch":
        return epochs
    if time == "cosine":
        lr = 0.5 * (1.0 + np.cos(np.pi * np.clip(epochs, 0, total_epochs) / total_epochs))
        return epochs / np.maximum(lr, 1.0 / total_epochs)
    raise ValueError(f"time must be 'epoch' or 'cosine' (or 'both' for a combination), got {time!r}")


def cosine_lr(epochs, total_epochs: int) -> np.ndarray:
    """Relative learning rate ``(1 + cos(pi t / T)) / 2`` at the end of epoch ``t`` of a cosine schedule over ``T``."""
    t = np.clip(np.asarray(epochs, dtype=float), 0, total_epochs)
    return 0.5 * (1.0 + np.cos(np.pi * t / total_epochs))


def cumulative_lr(epochs, total_epochs: int) -> np.ndarray:
    """Cumulative relative learning rate after epoch ``t`` of a cosine schedule over ``T`` epochs.

    The sum over epochs ``1..t`` of the rate at each epoch's midpoint,
    ``(1 + cos(pi (i - 1/2) / T)) / 2``: about ``t`` early on and ``T / 2``
    at the end. It measures the optimisation progress (distance travelled at
    unit gradient) that the annealed accuracy is modelled on.
    """
    t = np.clip(np.asarray(epochs, dtype=float), 0, total_epochs)
    # closed form of sum_{i=1}^{t} cos(pi (i - 1/2) / T) = sin(pi t / T) / (2 sin(pi / (2 T)))
    return 0.5 * t + 0.5 * np.sin(np.pi * t / total_epochs) / (2.0 * np.sin(np.pi / (2.0 * total_epochs)))


def _theta_grid(fam: Family) -> list[np.ndarray]:
    if not fam.grid:
        return []
    mesh = np.meshgrid(*fam.grid, indexing="ij")
    return [m.reshape(-1, 1) for m in mesh]


def _basis(fam: Family, u: np.ndarray, x: np.ndarray, theta: list[np.ndarray]) -> np.ndarray:
    with np.errstate(all="ignore"):
        g = fam.basis(u[None, :], x[None, :], *theta)
    return np.broadcast_to(g, (theta[0].shape[0] if theta else 1, u.size)).astype(float)


def _solve_linear(fam: Family, G: np.ndarray, y: np.ndarray):
    """Bounded closed-form linear parameters for every grid row; returns (c, d, sse)."""
    bad = ~np.all(np.isfinite(G), axis=1)
    G = np.where(np.isfinite(G), G, 0.0)
    if fam.kind == "offset":
        c = np.mean(y[None, :] - G, axis=1)
        d = np.ones_like(c)
    elif fam.kind == "scale":
        gg = np.einsum("ij,ij->i", G, G)
        d = np.clip(G @ y / np.maximum(gg, 1e-300), 0.0, fam.d_max)
        c = np.zeros_like(d)
    else:
        gm, ym = G.mean(axis=1), y.mean()
        gc = G - gm[:, None]
        var = np.einsum("ij,ij->i", gc, gc)
        d0 = np.where(var > 1e-300, gc @ (y - ym) / np.maximum(var, 1e-300), 0.0)
        c0 = ym - d0 * gm
        cands = [(c0, d0)]
        # boundary candidates of the box {0 <= c <= 1, d <= 0 (and c + d >= 0)}
        cands.append((np.full_like(d0, np.clip(ym, 0, 1)), np.zeros_like(d0)))
        gg = np.einsum("ij,ij->i", G, G)
        d1 = np.minimum(G @ (y - 1.0) / np.maximum(gg, 1e-300), 0.0)
        cands.append((np.ones_like(d1), d1))
        if fam.beta_nonneg:  # y = c (1 - g): start value beta = 0
            h = 1.0 - G
            hh = np.einsum("ij,ij->i", h, h)
            c2 = np.clip(h @ y / np.maximum(hh, 1e-300), 0.0, 1.0)
            cands.append((c2, -c2))
        best_c, best_d, best_sse = None, None, None
        for cc, dd in cands:
            ok = (cc >= -1e-12) & (cc <= 1 + 1e-12) & (dd <= 1e-12)
            if fam.beta_nonneg:
                ok &= cc + dd >= -1e-12
            r = y[None, :] - (cc[:, None] + dd[:, None] * G)
            sse = np.where(ok, np.einsum("ij,ij->i", r, r), np.inf)
            if best_sse is None:
                best_c, best_d, best_sse = cc.copy(), dd.copy(), sse
            else:
                take = sse < best_sse
                best_c, best_d, best_sse = np.where(take, cc, best_c), np.where(take, dd, best_d), np.where(take, sse, best_sse)
        return best_c, best_d, np.where(bad, np.inf, best_sse)
    r = y[None, :] - (c[:, None] + d[:, None] * G)
    sse = np.einsum("ij,ij->i", r, r)
    return c, d, np.where(bad | ~np.isfinite(sse), np.inf, sse)


@functools.lru_cache(maxsize=64)
def _grid_basis(name: str, x_bytes: bytes, at: float):
    """A family's grid, its basis at the abscissae and at ``at`` (cached: curves of one prefix length share them)."""
    fam = FAMILIES[name]
    x = np.frombuffer(x_bytes, dtype=float)
    x_ref = float(x[-1])
    theta = _theta_grid(fam)
    at_arr = np.array([at])
    G = _basis(fam, x / x_ref, x, theta)
    g_at = _basis(fam, at_arr / x_ref, at_arr, theta)[:, 0]
    for arr in (*theta, G, g_at):
        arr.setflags(write=False)  # shared between calls
    return theta, G, g_at


@dataclass
class FamilyFit:
    """One fitted family. Call it on abscissae to evaluate; ``sse`` is its residual sum of squares."""

    family: Family
    theta: tuple[float, ...]
    c: float
    d: float
    x_ref: float
    sse: float
    n: int

    def __call__(self, x) -> np.ndarray:
        x = np.atleast_1d(np.asarray(x, dtype=float))
        theta = [np.array([[t]]) for t in self.theta]
        g = _basis(self.family, x / self.x_ref, x, theta)[0]
        return self.c + self.d * g

    @property
    def sigma(self) -> float:
        """Residual standard deviation with the family's parameter count as degrees of freedom."""
        k = len(self.theta) + _N_LINEAR[self.family.kind]
        return math.sqrt(self.sse / max(self.n - k, 1))


def fit_family(name: str, x, y, *, refine: bool = True) -> FamilyFit | None:
    """Fit family ``name`` to points ``(x, y)`` (abscissae > 0, fractions); None when nothing fits.

    The best point of the ``theta`` grid is refined by bounded least squares
    when ``refine`` is true (warnings from the optimiser are silenced locally).
    """
    fam = get_family(name)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x_ref = float(x[-1])
    u = x / x_ref
    theta = _theta_grid(fam)
    G = _basis(fam, u, x, theta)
    c, d, sse = _solve_linear(fam, G, y)
    j = int(np.argmin(sse))
    if not np.isfinite(sse[j]):
        return None
    best = FamilyFit(fam, tuple(float(t[j, 0]) for t in theta), float(c[j]), float(d[j]), x_ref, float(sse[j]), x.size)
    if refine and theta:
        lo = np.array([min(g.min(), g.max()) for g in fam.grid])
        hi = np.array([max(g.min(), g.max()) for g in fam.grid])

        def resid(t):
            Gt = _basis(fam, u, x, [np.array([[v]]) for v in t])
            cc, dd, _ = _solve_linear(fam, Gt, y)
            r = cc[0] + dd[0] * Gt[0] - y
            return np.where(np.isfinite(r), r, 1.0)

        t0 = np.clip(np.array(best.theta), lo, hi)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # ill-conditioning near bounds is expected; the grid optimum is the fallback
            try:
                res = least_squares(resid, t0, bounds=(lo - 1e-12, hi + 1e-12), method="trf", max_nfev=100, xtol=1e-12, ftol=1e-12, gtol=1e-12)
            except (ValueError, np.linalg.LinAlgError):
                res = None
        if res is not None and np.all(np.isfinite(res.x)):
            Gt = _basis(fam, u, x, [np.array([[v]]) for v in res.x])
            cc, dd, ss = _solve_linear(fam, Gt, y)
            if np.isfinite(ss[0]) and ss[0] < best.sse:
                best = FamilyFit(fam, tuple(float(v) for v in res.x), float(cc[0]), float(dd[0]), x_ref, float(ss[0]), x.size)
    return best


@dataclass
class Prediction:
    """Predictive distribution at one abscissa, fraction units: mean, std and per-family detail."""

    mean: float
    std: float
    weights: dict[str, float]
    means: dict[str, float]


def auto_temperature(residuals: np.ndarray | None) -> float:
    """Likelihood temperature ``n / n_eff`` from the lag-1 autocorrelation of residuals.

    Correlated residuals (a family that misses the curve's shape, or a
    smoothed / best-so-far curve) carry fewer independent observations than
    points: with lag-1 autocorrelation ``rho`` the AR(1) effective sample size
    is ``n (1 - rho) / (1 + rho)``, so the likelihood is tempered by
    ``(1 + rho) / (1 - rho)``, clipped to ``[1, n]``.
    """
    if residuals is None or residuals.size < 3:
        return 1.0
    r = residuals - residuals.mean()
    denom = float(r @ r)
    if denom <= 0:
        return 1.0
    rho = float(np.clip((r[1:] @ r[:-1]) / denom, 0.0, 0.999))
    return float(np.clip((1 + rho) / (1 - rho), 1.0, residuals.size))


def combine(
    x,
    y,
    at: float,
    *,
    families: tuple[str, ...] = FAMILY_NAMES,
    noise_floor: float = 0.005,
    temperature: float | str = 1.0,
    family_weights: str = "evidence",
) -> Prediction:
    """Bayesian model average of the families' extrapolations to abscissa ``at`` (grid approximation).

    Parameters
    ----------
    x, y : array-like
        Observed abscissae (> 0) and accuracies (fractions), at least 2 points.
    at : float
        Abscissa to predict.
    families : tuple of str
        Families in the average.
    noise_floor : float
        Smallest observation-noise standard deviation (fraction units).
    temperature : float or "auto"
        Likelihood temperature; 1 is the plain posterior, larger is flatter;
        ``"auto"`` sets it from the residual autocorrelation of the best fit
        (:func:`auto_temperature`).
    family_weights : {"evidence", "uniform"}
        ``"evidence"``: posterior family weights (grid-averaged likelihood,
        BIC penalty); ``"uniform"``: the prior's equal weights over the
        families that give a valid prediction (each family still averaged
        over its own grid posterior).
    """
    if family_weights not in ("evidence", "uniform"):
        raise ValueError(f"family_weights must be 'evidence' or 'uniform', got {family_weights!r}")
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = y.size
    x = np.ascontiguousarray(x)
    per = []
    best_fit = (np.inf, None)
    for name in families:
        fam = get_family(name)
        theta, G, g_at = _grid_basis(name, x.tobytes(), float(at))
        c, d, sse = _solve_linear(fam, G, y)
        with np.errstate(all="ignore"):
            m = c + d * g_at
        ok = np.isfinite(sse) & np.isfinite(m) & (m >= 0) & (m <= 1)
        if ok.any():
            j = int(np.argmin(np.where(ok, sse, np.inf)))
            if sse[j] < best_fit[0]:
                best_fit = (float(sse[j]), y - (c[j] + d[j] * G[j]))
            k = len(theta) + _N_LINEAR[fam.kind]
            per.append((name, sse[ok], m[ok], G.shape[0], k))
    if not per:
        last = float(y[-1])
        return Prediction(last, float("nan"), {}, {})
    best_sse = min(float(p[1].min()) for p in per)
    k_best = min(p[4] for p in per if float(p[1].min()) == best_sse)
    sigma2 = max(best_sse / max(n - k_best, 1), noise_floor**2)
    tau = auto_temperature(best_fit[1]) if isinstance(temperature, str) and temperature == "auto" else float(temperature)
    if not np.isfinite(tau) or tau <= 0:
        raise ValueError(f"temperature must be a positive number or 'auto', got {temperature!r}")
    log_ev, fam_mean, fam_var = [], [], []
    for name, sse, m, size, k in per:
        ll = -sse / (2 * sigma2 * tau)
        top = ll.max()
        w = np.exp(ll - top)
        # grid-averaged likelihood (uniform prior over the whole grid, invalid points have zero mass)
        # with a BIC penalty for the profiled linear parameters
        log_ev.append(top + math.log(w.sum() / size) - 0.5 * _N_LINEAR[get_family(name).kind] * math.log(max(n, 2)) / tau)
        w = w / w.sum()
        mu = float(w @ m)
        fam_mean.append(mu)
        fam_var.append(float(w @ (m - mu) ** 2) + sigma2)
    log_ev_a = np.array(log_ev)
    wf = np.exp(log_ev_a - log_ev_a.max()) if family_weights == "evidence" else np.ones_like(log_ev_a)
    wf /= wf.sum()
    means, vars_ = np.array(fam_mean), np.array(fam_var)
    mean = float(wf @ means)
    var = float(wf @ (vars_ + means**2) - mean**2)
    names = [p[0] for p in per]
    return Prediction(mean, math.sqrt(max(var, 0.0)), dict(zip(names, wf.tolist())), dict(zip(names, fam_mean)))
