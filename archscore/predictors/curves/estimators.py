"""Learning-curve estimators behind ``create_estimator("lc:...")``.

Per-curve (no training, ``fit`` is a no-op):

* ``lc:last`` / ``lc:best`` -- last / best observed value.
* ``lc:<family>`` for the eleven families of Domhan et al. (IJCAI 2015),
  ``lc:combo``, their combination (see :mod:`.parametric`): equal (prior)
  family weights, each family averaged over its tempered grid posterior, fitted
  to the best-so-far curve (``lc:combo-uniform`` is an alias), and
  ``lc:combo-evidence``, the Bayesian model average with posterior family
  weights on the raw curve.

Learned across architectures (``fit(archs, y, curves=prefixes)``):

* ``lc:svr`` -- Baker, Gupta, Raskar & Naik, "Accelerating neural architecture
  search using performance prediction" (ICLR-W 2018, arXiv 2017): an RBF
  support-vector regressor on the curve prefix (values, first and second
  differences), optionally with architecture features (``encoding=``) and the
  training-loss prefix (``losses=``). Like the paper, one model per prefix
  length; hyperparameters by cross-validated grid search (the paper used
  random search). ``lc:rf``, ``lc:et`` and ``lc:gbm`` are the same pipeline
  with a random forest, extremely randomised trees or gradient boosting on
  eight summary statistics of the prefix (our variants, not the paper's).
* ``lc:sotl`` / ``lc:sotl-e`` -- Ru, Lyle, Schut, Fil, van der Wilk & Gal,
  "Speedy performance estimation for neural architecture search", NeurIPS
  2021: the negative sum of the training losses over all observed epochs
  (SoTL) or over the last ``E`` epochs (SoTL-E). They are ranking scores, not
  accuracy predictions, and use per-epoch losses (the paper sums minibatch
  losses within each epoch).

Curves follow the rules of :mod:`._checks` (NaN = missing epoch, ``scale="auto"``).
``archs`` may be None or contain None: these estimators read curves only,
except the learned ones with an ``encoding``, which fall back to a
curves-only model for rows without an architecture.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, NamedTuple

import numpy as np

from archscore.base import Estimator, Tags, register_estimator
from archscore.encodings import get_encoding
from archscore.predictors.curves._checks import as_curve, check_total_epochs, prepare_curves
from archscore.predictors.curves.extrapolate import COMBOS, NOISE_GAIN, extrapolate_fraction
from archscore.predictors.curves.features import PathFeatures, prefix_features, summary_features
from archscore.predictors.curves.parametric import FAMILIES, FAMILY_NAMES
from archscore.registry import unknown_choice_error

logger = logging.getLogger(__name__)

def _curve_tags(tags: Tags) -> Tags:
    """Curve estimators: need curves=, take archs=None, predict in the curves' accuracy units."""
    tags.family = "curve"
    tags.input.needs_curves = True
    tags.input.allows_none_archs = True
    tags.output.units = "accuracy"
    return tags


def _log_clipping(who: str, clipped: np.ndarray) -> None:
    if clipped.any():
        logger.warning("%s: %d of %d predictions were outside the valid accuracy range and were clipped "
                       "(predict_details(...).clipped says which)", who, int(clipped.sum()), clipped.size)


class CurvePrediction(NamedTuple):
    """Per-curve results of :meth:`ParametricExtrapolator.predict_details`, in the curves' scale."""

    mean: np.ndarray
    std: np.ndarray
    #: True where the raw extrapolation left ``[0, scale]`` and was clipped
    clipped: np.ndarray


class LastValue(Estimator):
    """Baseline: the last observed (finite) value of each curve.

    Parameters
    ----------
    scale : "auto", 1 or 100
        Accuracy scale of the curves (``"auto"``: percent when a value exceeds 1).
    """

    def __archscore_tags__(self) -> Tags:
        tags = _curve_tags(super().__archscore_tags__())
        tags.family = "baseline"
        return tags
    _reduce = "last"

    def __init__(self, scale: Any = "auto") -> None:
        self.scale = scale

    def _predict(self, archs, **context):
        fr, s = prepare_curves(context["curves"], self.scale)
        out = [(c[np.isfinite(c)][-1] if self._reduce == "last" else np.nanmax(c)) * s for c in fr]
        return np.array(out, dtype=float)


class BestValue(LastValue):
    """Baseline: the best observed value of each curve (``scale`` as in :class:`LastValue`)."""

    _reduce = "best"


class ParametricExtrapolator(Estimator):
    """Extrapolate each curve to epoch ``total_epochs`` with one family or their combination.

    Parameters
    ----------
    method : str, default="combo"
        A family name (:data:`~.parametric.FAMILY_NAMES`), ``"combo"`` (equal
        family weights; alias ``"combo_uniform"``) or ``"combo_evidence"``
        (posterior family weights).
    total_epochs : int
        The horizon: the epoch whose accuracy to predict (the curves may not be
        longer); required (no per-benchmark default).
    schedule_epochs : int, optional
        Length of the learning-rate schedule the runs follow; default
        ``total_epochs``. Read only by a schedule model and the cosine
        time; set it when the runs are annealed over another length than the
        horizon (e.g. predict epoch 100 of 200-epoch runs).
    time : {"epoch", "cosine", "both"}, default="epoch"
        Fit against the epoch or a cosine-schedule-aware time (:func:`~.parametric.schedule_time`);
        ``"both"`` (combinations only): the equal-weight mixture of the two.
    temperature : float, "auto" or None, default=None
        Likelihood temperature of the predictive distribution (> 1 widens it;
        ``"auto"`` sets it from the residual autocorrelation). None: the
        method's default, ``"auto"`` for ``combo``, 1 otherwise.
    envelope : bool or None, default=None
        Fit the best-so-far curve (running maximum) of each curve. None: the
        method's default, True for ``combo``, False otherwise.
    schedule : None, "cosine", "step", "constant" or callable, default=None
        Learning-rate schedule the runs follow (see :func:`~.extrapolate.extrapolate`).
        None (default): no assumption. NAS-Bench-201's runs are
        cosine-annealed: pass ``"cosine"`` to reproduce its numbers.
    noise_gain : float or tuple of float, default=(0.2, 0.8, 1.4)
        SGD-noise gain(s) of the schedule model; a tuple is an
        equal-weight prior over its values (cross-validated default).
    scale : "auto", 1 or 100
        Accuracy scale; predictions come back in it.

    Notes
    -----
    Curves need at least 3 finite points. Predictions outside ``[0, scale]``
    are clipped and logged (warning); :meth:`predict_details` says which.
    """

    def __archscore_tags__(self) -> Tags:
        tags = _curve_tags(super().__archscore_tags__())
        tags.output.supports_std = True
        return tags

    def __init__(self, method: str = "combo", total_epochs: int | None = None, schedule_epochs: int | None = None, time: str = "epoch", temperature: float | str | None = None,
                 envelope: bool | None = None, schedule: Any = None, noise_gain: float | tuple[float, ...] = NOISE_GAIN, scale: Any = "auto") -> None:
        self.method = method
        self.total_epochs = total_epochs
        self.schedule_epochs = schedule_epochs
        self.time = time
        self.temperature = temperature
        self.envelope = envelope
        self.schedule = schedule
        self.noise_gain = noise_gain
        self.scale = scale

    def _predict(self, archs, return_std: bool = False, **context):
        res = self._extrapolate(context["curves"])
        _log_clipping(type(self).__name__, res.clipped)
        return (res.mean, res.std) if return_std else res.mean

    def predict_details(self, archs, **context) -> CurvePrediction:
        """Mean, std and a clipped flag per curve (the estimator is left unchanged, like ``predict``)."""
        archs = self._check_archs(archs, context, self.get_tags())
        self._check_context(context, len(archs), self.get_tags())
        return self._extrapolate(context["curves"])

    def _extrapolate(self, curves) -> CurvePrediction:
        if self.method not in COMBOS and self.method not in FAMILIES:
            raise unknown_choice_error("extrapolation method", self.method, (*FAMILY_NAMES, *COMBOS))
        T = check_total_epochs(self.total_epochs, type(self).__name__)
        S = T if self.schedule_epochs is None else check_total_epochs(self.schedule_epochs, type(self).__name__, label="schedule_epochs")
        fr, s = prepare_curves(curves, self.scale, total_epochs=T)
        res = [extrapolate_fraction(c, T, S, method=self.method, time=self.time, temperature=self.temperature, envelope=self.envelope,
                                    schedule=self.schedule, noise_gain=self.noise_gain)
               for c in fr]
        return CurvePrediction(np.array([r[0] for r in res], dtype=float) * s, np.array([r[1] for r in res], dtype=float) * s,
                               np.array([r[2] for r in res], dtype=bool))


#: Regression models of :class:`LcRegressor`.
MODELS = ("svr", "rf", "et", "gbm")
#: Curve-prefix feature sets of :class:`LcRegressor`.
FEATURE_SETS = ("full", "summary")


#: The SVR's default hyperparameter grid (cross-validated at fit).
SVR_GRID: dict[str, list] = {"svr__C": [1.0, 10.0, 100.0], "svr__gamma": ["scale", 0.3, 0.03], "svr__epsilon": [0.01, 0.1]}


def _make_model(model: str, seed: int, n_train: int, n_estimators: int = 300, param_grid: dict | None = None):
    from sklearn.ensemble import ExtraTreesRegressor, GradientBoostingRegressor, RandomForestRegressor
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    folds = KFold(n_splits=min(3, n_train), shuffle=True, random_state=seed)
    if model == "svr":
        pipe = make_pipeline(StandardScaler(), SVR(kernel="rbf"))
        return GridSearchCV(pipe, SVR_GRID if param_grid is None else param_grid, cv=folds, scoring="neg_mean_absolute_error")
    if model == "rf":
        return RandomForestRegressor(n_estimators=n_estimators, max_features=0.33, min_samples_leaf=1, random_state=seed, n_jobs=1)
    if model == "et":
        return ExtraTreesRegressor(n_estimators=n_estimators, max_features=0.5, random_state=seed, n_jobs=1)
    if model == "gbm":
        return GradientBoostingRegressor(n_estimators=n_estimators, learning_rate=0.05, max_depth=3, subsample=0.8, random_state=seed)
    raise unknown_choice_error("curve regression model", model, MODELS)


def _resolve_encoding(encoding: Any):
    """A fresh copy of ``encoding``: an object with fit/transform, "op_path_counts", or a name of archscore.encodings."""
    if isinstance(encoding, str):
        if encoding == "op_path_counts":
            return PathFeatures()
        return get_encoding(encoding)
    if not (hasattr(encoding, "fit") and hasattr(encoding, "transform")):
        raise ValueError(f"encoding must have fit(archs) and transform(archs), got {type(encoding).__name__}")
    return copy.deepcopy(encoding)


class LcRegressor(Estimator):
    """Learned curve model: regress the final accuracy on curve-prefix features (Baker et al. 2017).

    Features for a prefix of length ``L``: the ``L`` observed values, their
    first and second differences; the same for the training-loss prefix
    when ``losses=`` is given at fit (and then required at predict); plus the
    architecture's features from ``encoding`` when archs are given.

    Parameters
    ----------
    model : {"svr", "rf", "et", "gbm"}, default="svr"
        RBF SVR with a cross-validated grid over C, gamma and epsilon (on
        standardised features and targets), a random forest, extremely
        randomised trees, or gradient-boosted trees.
    features : {"full", "summary"}, default="full"
        Curve-prefix features: ``"full"`` the paper's values and first and
        second differences; ``"summary"`` eight statistics
        (:func:`~.features.summary_features`).
    n_estimators : int, default=300
        Trees of the tree models (ignored by the SVR).
    param_grid : dict, optional
        The SVR's hyperparameter grid for ``GridSearchCV`` (keys ``svr__<param>``);
        default :data:`SVR_GRID`. Ignored by the tree models.
    encoding : object with fit(archs) / transform(archs), str or None
        Architecture features. ``"op_path_counts"`` is
        :class:`~.features.PathFeatures`; another string is looked up with
        ``archscore.encodings.get_encoding``. The object is
        copied at fit. Rows whose arch is None use a curves-only model.
    use_losses : bool, default=True
        Use the ``losses=`` prefix when given at fit.
    cv : int, default=5
        Folds of the out-of-fold residuals that set the predictive std.
    min_train : int, default=5
        Fewest training curves a prefix-length model needs; a test prefix
        longer than the longest length with that many training curves is cut
        to that length.
    seed : int, default=0
        Seed of the folds and the forest.
    scale : "auto", 1 or 100
        Scale of the curves (targets ``y`` are used as given).

    Notes
    -----
    One model per prefix length, as in the paper: ``fit`` trains one for
    every length the training curves have (cut to the longest usable length)
    and stores them in ``models_``; a test prefix of another length gets a
    model trained on the training curves cut to it, at each ``predict`` call
    and not stored (``predict`` never changes the estimator), so fit on
    curves of the lengths you will predict from. The predictive std is homoscedastic,
    a robust scale of the model's out-of-fold residuals (``cv`` folds on the
    training set): their 90% absolute quantile divided by 1.645, so that
    ``mean +- 1.645 std`` covers 90% of them; for Gaussian residuals it is
    their standard deviation.
    """

    def __archscore_tags__(self) -> Tags:
        tags = _curve_tags(super().__archscore_tags__())
        tags.requires_fit = True
        tags.output.supports_std = True
        return tags

    def __init__(self, model: str = "svr", features: str = "full", n_estimators: int = 300, param_grid: dict | None = None, encoding: Any = None,
                 use_losses: bool = True, cv: int = 5, min_train: int = 5, seed: int = 0, scale: Any = "auto") -> None:
        self.model = model
        self.features = features
        self.n_estimators = n_estimators
        self.param_grid = param_grid
        self.encoding = encoding
        self.use_losses = use_losses
        self.cv = cv
        self.min_train = min_train
        self.seed = seed
        self.scale = scale

    # ------------------------------------------------------------------ fit
    def _fit(self, archs, y, **context):
        if self.model not in MODELS:
            raise unknown_choice_error("curve regression model", self.model, MODELS)
        if self.features not in FEATURE_SETS:
            raise unknown_choice_error("curve feature set", self.features, FEATURE_SETS)
        fr, s = prepare_curves(context["curves"], self.scale)
        self.scale_ = s
        self.train_curves_ = fr
        self.y_ = np.asarray(y, dtype=float)
        losses = context.get("losses")
        self.uses_losses_ = bool(self.use_losses and losses is not None)
        self.train_losses_ = [as_curve(l, name=f"losses[{i}]") for i, l in enumerate(losses)] if self.uses_losses_ else None
        if self.uses_losses_:
            for i, (c, l) in enumerate(zip(fr, self.train_losses_)):
                if l.size < c.size:
                    raise ValueError(f"losses[{i}] has {l.size} epochs but curves[{i}] has {c.size}; give one loss per observed epoch")
        self.encoder_ = None
        self.arch_features_ = None
        if self.encoding is not None:
            if any(a is None for a in archs):
                logger.info("%s: some training archs are None; architecture features are not used", type(self).__name__)
            else:
                enc = _resolve_encoding(self.encoding)
                enc.fit(archs)
                self.encoder_ = enc
                self.arch_features_ = np.asarray(enc.transform(archs), dtype=float)
        lengths = np.array([c.size for c in fr])
        self.max_length_ = self._longest_usable(lengths)
        if self.max_length_ is None:
            raise ValueError(f"{type(self).__name__} needs at least {self.min_train} training curves, got {len(fr)}")
        # one model per prefix length the training curves have (cut to max_length_), as in the paper
        self.models_ = {}
        for L in sorted({min(int(n), self.max_length_) for n in lengths}):
            self.models_[(L, self.encoder_ is not None)] = self._train_model(L, self.encoder_ is not None)

    def _longest_usable(self, lengths: np.ndarray) -> int | None:
        k = max(int(self.min_train), 2)
        ok = [L for L in range(1, int(lengths.max()) + 1) if np.sum(lengths >= L) >= k]
        return max(ok) if ok else None

    def _features(self, curves, losses, arch_feats, length: int) -> np.ndarray:
        rows = []
        feat = prefix_features if self.features == "full" else summary_features
        for i, c in enumerate(curves):
            parts = [feat(c, length)]
            if losses is not None:
                parts.append(feat(losses[i], length))
            if arch_feats is not None:
                parts.append(arch_feats[i])
            rows.append(np.concatenate(parts))
        return np.vstack(rows)

    def _model_for(self, length: int, with_arch: bool):
        """The model fitted for this prefix length, or one trained now and not stored (predict changes nothing)."""
        key = (int(length), bool(with_arch))
        if key in self.models_:
            return self.models_[key]
        logger.debug("%s: training a model for prefix length %d (not among the fitted lengths %s)", type(self).__name__, length, sorted(self.models_))
        return self._train_model(*key)

    def _train_model(self, length: int, with_arch: bool):
        from sklearn.model_selection import KFold

        idx = [i for i, c in enumerate(self.train_curves_) if c.size >= length]
        curves = [self.train_curves_[i] for i in idx]
        losses = [self.train_losses_[i] for i in idx] if self.uses_losses_ else None
        af = self.arch_features_[idx] if with_arch else None
        X = self._features(curves, losses, af, length)
        y = self.y_[idx]
        mu, sd = float(y.mean()), float(y.std()) or 1.0
        z = (y - mu) / sd
        est = _make_model(self.model, self.seed, len(idx), int(self.n_estimators), self.param_grid).fit(X, z)
        best = est.best_estimator_ if hasattr(est, "best_estimator_") else est
        # out-of-fold residuals with the chosen hyperparameters set the predictive std
        from sklearn.base import clone

        k = max(2, min(int(self.cv), len(idx)))
        oof = np.empty(len(idx))
        for tr, te in KFold(n_splits=k, shuffle=True, random_state=self.seed).split(X):
            oof[te] = clone(best).fit(X[tr], z[tr]).predict(X[te])
        # robust scale: the 90% quantile of |residual| / z_0.95, so mean +- 1.645 std covers 90% of the
        # out-of-fold residuals (equals the standard deviation for Gaussian residuals)
        resid_std = float(np.quantile(np.abs(oof - z), 0.9) / 1.6448536269514722) * sd
        return est, mu, sd, resid_std

    # -------------------------------------------------------------- predict
    def _predict(self, archs, return_std: bool = False, **context):
        fr, _ = prepare_curves(context["curves"], self.scale_)
        losses = context.get("losses")
        if self.uses_losses_ and losses is None:
            raise ValueError(f"{type(self).__name__} was fitted with losses=, so predict needs losses= too (one sequence per architecture)")
        loss_arrs = [as_curve(l, name=f"losses[{i}]") for i, l in enumerate(losses)] if self.uses_losses_ else None
        with_arch = np.array([self.encoder_ is not None and a is not None for a in archs], dtype=bool)
        arch_feats = None
        if with_arch.any():
            arch_feats = np.zeros((len(archs), self.arch_features_.shape[1]))
            arch_feats[with_arch] = np.asarray(self.encoder_.transform([a for a in archs if a is not None]), dtype=float)
        mean = np.empty(len(fr))
        std = np.empty(len(fr))
        lengths = np.minimum([c.size for c in fr], self.max_length_)
        for L in np.unique(lengths):
            for wa in (False, True):
                rows = np.flatnonzero((lengths == L) & (with_arch == wa))
                if rows.size == 0:
                    continue
                if self.uses_losses_:
                    for r in rows:
                        if loss_arrs[r].size < L:
                            raise ValueError(f"losses[{r}] has {loss_arrs[r].size} epochs, fewer than the {L} observed in curves[{r}]")
                est, mu, sd, rs = self._model_for(int(L), wa)
                X = self._features([fr[r] for r in rows], [loss_arrs[r] for r in rows] if self.uses_losses_ else None,
                                   arch_feats[rows] if wa else None, int(L))
                mean[rows] = est.predict(X) * sd + mu
                std[rows] = rs
        return (mean, std) if return_std else mean


class SumOfTrainingLosses(Estimator):
    """SoTL / SoTL-E of Ru et al. (NeurIPS 2021): minus the sum of per-epoch training losses.

    Parameters
    ----------
    E : int or None, default=None
        Sum over the last ``E`` observed epochs (SoTL-E); None sums all (SoTL).

    Notes
    -----
    A ranking score (higher = better), not an accuracy. NaN losses are
    skipped (missing epochs); a sequence with no finite value is an error.
    """

    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.family = "curve"
        tags.input.needs_losses = True
        tags.input.allows_none_archs = True
        return tags

    def __init__(self, E: int | None = None) -> None:
        self.E = E

    def _predict(self, archs, **context):
        E = self.E
        if E is not None and (isinstance(E, bool) or not isinstance(E, (int, np.integer)) or E < 1):
            raise ValueError(f"E must be a positive integer or None, got {E!r}")
        out = []
        for i, l in enumerate(context["losses"]):
            arr = as_curve(l, name=f"losses[{i}]")
            window = arr if E is None else arr[-int(E):]
            if not np.isfinite(window).any():
                raise ValueError(f"losses[{i}] has no finite value in its last {E} epochs")
            out.append(-float(np.nansum(window)))
        return np.array(out)


# ------------------------------------------------------------------ registry
register_estimator("lc:last", LastValue, description="last observed value of the learning curve (baseline)")
register_estimator("lc:best", BestValue, description="best observed value of the learning curve (baseline)")
for _name in FAMILY_NAMES:
    register_estimator(f"lc:{_name}", ParametricExtrapolator, defaults={"method": _name}, description=f"extrapolate the curve with {_name}: {FAMILIES[_name].formula} (Domhan et al. 2015)",
                       test_params={"total_epochs": 20})
register_estimator("lc:combo", ParametricExtrapolator, defaults={"method": "combo"}, description="the 11 curve families (Domhan et al. 2015) averaged with equal prior weights, each over its "
                   "tempered grid posterior, fitted to the best-so-far curve; predictive std", test_params={"total_epochs": 20})
register_estimator("lc:combo-uniform", ParametricExtrapolator, defaults={"method": "combo_uniform"}, description="alias of lc:combo (equal family weights)",
                   test_params={"total_epochs": 20})
register_estimator("lc:combo-evidence", ParametricExtrapolator, defaults={"method": "combo_evidence"}, description="Bayesian model average of the 11 curve families with posterior family weights "
                   "(Domhan et al. 2015, grid approximation), with predictive std", test_params={"total_epochs": 20})
register_estimator("lc:svr", LcRegressor, defaults={"model": "svr"}, description="SVR on curve-prefix features (+ optional arch encoding, losses) (Baker et al. 2017)",
                   test_params={"cv": 3, "param_grid": {"svr__C": [10.0], "svr__gamma": ["scale"], "svr__epsilon": [0.1]}})
register_estimator("lc:rf", LcRegressor, defaults={"model": "rf", "features": "summary"},
                   description="random forest on curve-prefix summary features (+ optional arch encoding, losses)", test_params={"cv": 3, "n_estimators": 20})
register_estimator("lc:et", LcRegressor, defaults={"model": "et", "features": "summary"},
                   description="extremely randomised trees on curve-prefix summary features (+ optional arch encoding, losses)", test_params={"cv": 3, "n_estimators": 20})
register_estimator("lc:gbm", LcRegressor, defaults={"model": "gbm", "features": "summary"},
                   description="gradient-boosted trees on curve-prefix summary features (+ optional arch encoding, losses)", test_params={"cv": 3, "n_estimators": 20})
register_estimator("lc:sotl", SumOfTrainingLosses, description="minus the sum of training losses over observed epochs (Ru et al. 2021)")
register_estimator("lc:sotl-e", SumOfTrainingLosses, defaults={"E": 1}, description="minus the training loss of the last E epochs, E=1 by default (Ru et al. 2021)")
