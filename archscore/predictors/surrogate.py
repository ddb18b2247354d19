"""Surrogate predictors: learn accuracy from (architecture, accuracy) pairs over an encoding.

Every predictor here takes ``encoding=`` (a registered name such as ``"path"``
or ``"graph_features+zc"``, or an :class:`~archscore.encodings.Encoding`
object, whose parameters then nest as ``encoding__<param>``) and
``seed=`` (see "Seeds" in :mod:`archscore.base`). The encoding is cloned and fitted on the training
architectures, so its vocabulary comes from the training set and predicting
on architectures of another space or with unknown ops raises a ``ValueError``.

Predictors follow the comparison of White, Zela, Ru, Liu & Hutter, "How
Powerful are Performance Predictors in Neural Architecture Search?" (NeurIPS
2021). Hyperparameters are fixed defaults (documented per class); none is
tuned on a benchmark's test architectures. Gaussian-process kernel parameters
are fitted by marginal likelihood on the training set only.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, ClassVar

import numpy as np

from archscore.base import Estimator, Tags, register_estimator
from archscore.encodings import ENCODINGS, ConcatEncoding, Encoding, ZCEncoding, get_encoding
from archscore.encodings.registry import CONCAT_SEP, encoding_parts

logger = logging.getLogger(__name__)

TARGET_TRANSFORMS = (None, "rank", "log_error")


def _encoding_needs_scores(encoding: Any) -> bool:
    """Whether an encoding (name or instance) reads ``scores=``, from class attributes alone (nothing is built)."""
    if encoding is None:
        return False
    if isinstance(encoding, Encoding):
        return bool(encoding.needs_scores)
    if isinstance(encoding, str):
        parts = encoding_parts(encoding) if CONCAT_SEP in encoding else [encoding]
        return any(ENCODINGS.get(part).needs_scores for part in parts)
    return False


def proxy_columns(encoding: Encoding) -> np.ndarray:
    """Output columns of a fitted encoding that hold zero-cost proxy scores (its :class:`ZCEncoding` parts).

    A :class:`ConcatEncoding` says which columns came from which part
    (``part_slices_``); nothing is parsed from feature names.
    """
    if isinstance(encoding, ZCEncoding):
        return np.arange(encoding.n_features_out_)
    if isinstance(encoding, ConcatEncoding):
        every = np.arange(encoding.n_features_out_)
        cols = [every[encoding.part_slices_[name]] for name, part in encoding.fitted_ if isinstance(part, ZCEncoding)]
        return np.concatenate(cols) if cols else np.zeros(0, dtype=int)
    return np.zeros(0, dtype=int)


def transform_targets(y: np.ndarray, how: str | None) -> np.ndarray:
    """Monotone target transforms (rankings are unchanged, regression gets easier).

    ``None``: identity. ``"rank"``: average ranks scaled to (0, 1].
    ``"log_error"``: ``-log(c - y)`` with ``c = max(y) + 0.1 * (max(y) - min(y))``
    (``max(y) - min(y)`` taken as 1 when all targets are equal), which
    stretches the crowded top of an accuracy distribution and squashes the
    long tail of poor architectures. :class:`TargetMap` also inverts them.
    """
    return TargetMap.fit(np.asarray(y, dtype=float), how).forward(np.asarray(y, dtype=float))


class TargetMap:
    """A fitted monotone target transform and its inverse (back to the targets' units).

    Surrogates regress transformed targets internally and predict in the
    units of the targets they were fitted on: the mean prediction is mapped
    back with :meth:`inverse` (a monotone map, so rankings are those of the
    transformed scale), a standard deviation with the delta method
    (:meth:`inverse_std`: ``|d inverse / dt|`` at the mean times the std).

    * ``None``: identity.
    * ``"log_error"``: ``t = -log(c - y)``, inverse ``y = c - exp(-t)`` (never above ``c``,
      and never below ``lo = min(y) - 10 (max(y) - min(y))``: a model that extrapolates far
      down on the log scale, e.g. a linear one on proxy features, would otherwise overflow
      ``exp`` to ``-inf``; the bound is far below any sensible prediction, so it only
      guards against that).
    * ``"rank"``: ``t`` = average rank / n; the inverse interpolates linearly
      between the training pairs (``t``, ``y``) and clips at their ends, so
      it never predicts outside the training targets' range.
    """

    def __init__(self, how: str | None, c: float = 0.0, t_grid: np.ndarray | None = None, y_grid: np.ndarray | None = None,
                 lo: float = -np.inf) -> None:
        self.how, self.c, self.t_grid, self.y_grid, self.lo = how, c, t_grid, y_grid, lo

    @classmethod
    def fit(cls, y: np.ndarray, how: str | None) -> "TargetMap":
        """The transform ``how`` with its constants taken from the training targets ``y``."""
        from scipy.stats import rankdata

        if how not in TARGET_TRANSFORMS:
            raise ValueError(f"target_transform must be one of {TARGET_TRANSFORMS}, got {how!r}")
        y = np.asarray(y, dtype=float)
        if how == "log_error":
            span = float(np.ptp(y)) or 1.0
            return cls(how, c=float(np.max(y)) + 0.1 * span, lo=float(np.min(y)) - 10.0 * span)
        if how == "rank":
            t = rankdata(y) / len(y)
            order = np.argsort(t, kind="stable")
            return cls(how, t_grid=t[order], y_grid=y[order])
        return cls(None)

    def forward(self, y: np.ndarray) -> np.ndarray:
        """Targets -> the regression scale (only for the training targets with ``"rank"``)."""
        y = np.asarray(y, dtype=float)
        if self.how == "log_error":
            return -np.log(self.c - y)
        if self.how == "rank":
            from scipy.stats import rankdata

            return rankdata(y) / len(y)
        return y

    def inverse(self, t: np.ndarray) -> np.ndarray:
        """The regression scale -> target units."""
        t = np.asarray(t, dtype=float)
        if self.how == "log_error":
            return self.c - np.exp(-np.maximum(t, self._t_lo()))
        if self.how == "rank":
            return np.interp(t, self.t_grid, self.y_grid)
        return t

    def _t_lo(self) -> float:
        """The regression-scale value of ``lo`` (predictions below it are clipped to it)."""
        return -np.log(self.c - self.lo) if np.isfinite(self.lo) else -np.inf

    def inverse_std(self, t: np.ndarray, std: np.ndarray) -> np.ndarray:
        """A std on the regression scale at mean ``t`` -> target units (delta method)."""
        t, std = np.asarray(t, dtype=float), np.asarray(std, dtype=float)
        if self.how == "log_error":
            return np.exp(-np.maximum(t, self._t_lo())) * std
        if self.how == "rank":
            h = 1e-6
            return np.abs(self.inverse(t + h) - self.inverse(t - h)) / (2 * h) * std
        return std


class EncodedPredictor(Estimator):
    """Base class: encode architectures, then regress the (transformed) targets.

    Subclasses implement ``_fit_model(X, y)`` and ``_predict_model(X,
    return_std)`` on the transformed scale; :meth:`predict` maps both back
    to the targets' units (:class:`TargetMap`), so every surrogate predicts
    accuracy when fitted on accuracies, whatever its ``target_transform``.
    """

    #: Subclasses whose model gives a predictive spread set this (tag ``output.supports_std``).
    gives_std: ClassVar[bool] = False

    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.family = "surrogate"
        tags.requires_fit = True
        tags.input.needs_scores = _encoding_needs_scores(getattr(self, "encoding", None))
        tags.output.units = "accuracy"  # predictions are mapped back to the targets' units
        tags.output.supports_std = self.gives_std
        return tags

    def _fit(self, archs, y, **context):
        if len(archs) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 training architectures with targets, got {len(archs)}")
        self.encoding_ = get_encoding(self.encoding if self.encoding is not None else "onehot")
        X = self.encoding_.fit_transform(archs, **context)
        y = np.asarray(y, dtype=float)
        self.target_map_ = TargetMap.fit(y, getattr(self, "target_transform", None))
        self._fit_model(X, self.target_map_.forward(y))

    def _predict(self, archs, return_std: bool = False, **context):
        if not archs:  # like every other estimator: nothing in, nothing out
            empty = np.zeros(0)
            return (empty, empty.copy()) if return_std else empty
        X = self.encoding_.transform(archs, **context)
        out = self._predict_model(X, return_std)
        if not return_std:
            return self.target_map_.inverse(out)
        mean_t, std_t = out
        return self.target_map_.inverse(mean_t), self.target_map_.inverse_std(mean_t, std_t)

    def _fit_model(self, X: np.ndarray, y: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict_model(self, X: np.ndarray, return_std: bool):  # pragma: no cover - abstract
        raise NotImplementedError


#: How to get XGBoost, for the error raised when it is missing (see docs/guides/install.md).
XGBOOST_HINT = ("pip install xgboost (GPU-capable; on Linux it also downloads nvidia-nccl-cu12) "
                "or pip install xgboost-cpu (the same module without CUDA libraries)")


def xgb_regressor_class() -> type:
    """``xgboost.XGBRegressor``, or an ImportError saying how to install XGBoost.

    XGBoost is a dependency, but a CPU install may bring the ``xgboost-cpu``
    distribution instead (docs/guides/install.md): both provide the ``xgboost``
    module, and archscore works with either; a missing module gets a clear error.
    """
    try:
        from xgboost import XGBRegressor
    except ImportError as exc:
        raise ImportError(f"this estimator needs XGBoost, which is not installed: {XGBOOST_HINT}") from exc
    return XGBRegressor


def _seed(seed: Any) -> int:
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return int(seed)
    raise ValueError(f"seed must be an int, got {seed!r}")


class XGBPredictor(EncodedPredictor):
    """Gradient-boosted trees (XGBoost) on an encoding.

    XGBoost is one of the strongest model-based predictors in White et al.
    (NeurIPS 2021). Defaults (fixed, not tuned on benchmark test sets): 500
    trees of depth 6, learning rate 0.05, row and column subsampling 0.8,
    one thread.

    Parameters
    ----------
    encoding : str or Encoding, default="graph_features"
    n_estimators, max_depth, learning_rate, subsample, colsample_bytree : XGBoost parameters
    target_transform : {None, "rank", "log_error"}, default=None
        See :func:`transform_targets`.
    n_jobs : int, default=1
    seed : int, default=0
        Seed of the model's randomness.
    """

    def __init__(self, encoding: Any = "graph_features", n_estimators: int = 500, max_depth: int = 6, learning_rate: float = 0.05,
                 subsample: float = 0.8, colsample_bytree: float = 0.8, target_transform: str | None = None, n_jobs: int = 1,
                 seed: int = 0) -> None:
        self.encoding = encoding
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.target_transform = target_transform
        self.n_jobs = n_jobs
        self.seed = seed

    def _fit_model(self, X, y):
        XGBRegressor = xgb_regressor_class()
        self.model_ = XGBRegressor(n_estimators=self.n_estimators, max_depth=self.max_depth, learning_rate=self.learning_rate,
                                   subsample=self.subsample, colsample_bytree=self.colsample_bytree, n_jobs=self.n_jobs,
                                   random_state=_seed(self.seed), verbosity=0)
        self.model_.fit(X, y)

    def _predict_model(self, X, return_std):
        return self.model_.predict(X)


class RandomForestPredictor(EncodedPredictor):
    """Random forest on an encoding; predictive std is the spread of the trees.

    Random forests on GRAF features are among the best predictors of
    Kadlecová et al. (ICML 2024). Defaults: 300 trees, ``max_features=0.3``.

    Parameters
    ----------
    encoding : str or Encoding, default="graph_features"
    n_estimators : int, default=300
    max_features : float, default=0.3
    min_samples_leaf : int, default=1
    target_transform : {None, "rank", "log_error"}, default=None
    n_jobs : int, default=1
    seed : int, default=0
        Seed of the model's randomness.
    """

    gives_std = True

    def __init__(self, encoding: Any = "graph_features", n_estimators: int = 300, max_features: float = 0.3,
                 min_samples_leaf: int = 1, target_transform: str | None = None, n_jobs: int = 1, seed: int = 0) -> None:
        self.encoding = encoding
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.target_transform = target_transform
        self.n_jobs = n_jobs
        self.seed = seed

    def _fit_model(self, X, y):
        from sklearn.ensemble import RandomForestRegressor

        self.model_ = RandomForestRegressor(n_estimators=self.n_estimators, max_features=self.max_features,
                                            min_samples_leaf=self.min_samples_leaf, n_jobs=self.n_jobs,
                                            random_state=_seed(self.seed))
        self.model_.fit(X, y)

    def _predict_model(self, X, return_std):
        if not return_std:
            return self.model_.predict(X)
        per_tree = np.stack([t.predict(X) for t in self.model_.estimators_])
        return per_tree.mean(axis=0), per_tree.std(axis=0)


class GPPredictor(EncodedPredictor):
    """Gaussian process regression (scikit-learn) on a standardised encoding.

    Kernel ``C * Matern(nu=2.5) + White`` on standardised features (constant
    features dropped), targets normalised; kernel hyperparameters maximise the
    marginal likelihood on the training set (``n_restarts_optimizer``
    restarts) within bounds: length scale in ``[0.2, 100] * sqrt(d)`` for
    ``d`` features and noise at most half the target variance (without them,
    10-point training sets often collapse to a constant prediction). The GP is the classic Bayesian-optimisation surrogate
    (e.g. NASBOT, and the GP baseline of White et al., NeurIPS 2021).

    Parameters
    ----------
    encoding : str or Encoding, default="graph_features"
    nu : float, default=2.5
    n_restarts_optimizer : int, default=2
    target_transform : {None, "rank", "log_error"}, default=None
    seed : int, default=0
        Seed of the model's randomness.
    """

    gives_std = True

    def __init__(self, encoding: Any = "graph_features", nu: float = 2.5, n_restarts_optimizer: int = 2,
                 target_transform: str | None = None, seed: int = 0) -> None:
        self.encoding = encoding
        self.nu = nu
        self.n_restarts_optimizer = n_restarts_optimizer
        self.target_transform = target_transform
        self.seed = seed

    def _fit_model(self, X, y):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        self.keep_ = np.ptp(X, axis=0) > 0
        Z = X[:, self.keep_]
        self.mean_, self.scale_ = Z.mean(axis=0), Z.std(axis=0)
        Z = (Z - self.mean_) / self.scale_
        d = max(Z.shape[1], 1)
        # Standardised points lie ~sqrt(2d) apart. Length scales far below that (and noise explaining all the
        # variance) turn the GP into a lookup table that predicts the constant mean on every new architecture,
        # which the marginal likelihood does prefer on ~10 points; the bounds rule that degenerate optimum out.
        r = np.sqrt(d)
        kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(length_scale=r, length_scale_bounds=(0.2 * r, 100 * r), nu=self.nu) \
            + WhiteKernel(0.1, (1e-6, 0.5))
        self.model_ = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=self.n_restarts_optimizer,
                                               random_state=_seed(self.seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # bounds hit on tiny training sets are expected
            self.model_.fit(Z if Z.shape[1] else np.zeros((len(y), 1)), y)

    def _predict_model(self, X, return_std):
        Z = (X[:, self.keep_] - self.mean_) / self.scale_
        if not Z.shape[1]:
            Z = np.zeros((len(X), 1))
        return self.model_.predict(Z, return_std=return_std)


class SurrogatePredictor(EncodedPredictor):
    """archscore's recommended surrogate: picks a model by training-set size.

    * fewer than ``small_n`` training architectures: the mean of a random
      forest and a ridge regression (``alpha=100`` on standardised features),
      whose strong shrinkage gives a stable ranking from a handful of points;
    * otherwise: the mean of XGBoost and a random forest (defaults of
      :class:`XGBPredictor` and :class:`RandomForestPredictor`).

    Both on ``graph_features+path`` (GRAF-style features plus the BANANAS path
    encoding) with ``log_error`` targets (see :func:`transform_targets`);
    predictions are mapped back to the targets' units (accuracy when fitted on
    accuracies), see :class:`TargetMap`.

    **Uncertainty.** ``predict(..., return_std=True)`` gives the square root
    of the variance of the random forest's trees plus the variance between
    the two models, computed on the regression scale and mapped to target
    units with the delta method (times ``1 - prior_share_`` when the prior
    below is blended in).

    **Zero-cost prior.** When the encoding holds zero-cost proxy features (a
    ``zc`` part, with ``scores=``), a handful of labels cannot teach a model
    with hundreds of features to lean on the few proxy columns, although one
    good proxy alone often ranks better than such a model. The surrogate then
    blends its model with a prior built from the proxies alone: each proxy's
    standardised (signed-log) score, weighted by its Kendall tau with the
    training targets clipped at 0 (a proxy that disagrees with the labels
    gets no weight), mapped to target units by a least-squares line on the
    training set. The blend is ``(1 - lam) * model + lam * prior`` with
    ``lam = prior_weight / (prior_weight + n_train)``: the prior counts as
    ``prior_weight`` training architectures, so it dominates with a few labels
    and fades as they accumulate (NAS-Bench-Suite-Zero, Krishnakumar et al.
    2022, found proxy features help most at small training sizes). Only in
    the small-data regime (fewer than ``small_n`` training architectures):
    from 50 on it made no difference on the design cells. No prior when no
    proxy has a positive tau or the fitted line is not increasing.

    These choices were made on exploratory NB201 splits with seeds 1000+,
    disjoint from the benchmark's seeds 0..9, and for the prior on 800 scored
    cells disjoint from the benchmark's scored pool (``default_rng(777)``); nothing
    is tuned on a benchmark's test set.

    Parameters
    ----------
    encoding : str or Encoding, default="graph_features+path"
        Add ``+zc`` (and pass ``scores=``) to use zero-cost proxy scores.
    small_n : int, default=50
    target_transform : {None, "rank", "log_error"}, default="log_error"
    n_estimators : int, default=300
        Trees of the random forest.
    prior_weight : float, default=10
        Pseudo-count of the zero-cost prior (0 switches it off); used only
        with a ``zc`` part in the encoding and fewer than ``small_n``
        training architectures.
    seed : int, default=0
        Seed of the model's randomness.

    Attributes
    ----------
    mode_ : str
        ``"rf+ridge"`` or ``"xgb+rf"``.
    prior_weights_ : dict or None
        Proxy feature -> weight in the prior (sums to 1); None without a prior.
    prior_share_ : float
        ``lam`` above (0 without a prior).
    """

    gives_std = True

    def __init__(self, encoding: Any = "graph_features+path", small_n: int = 50, target_transform: str | None = "log_error",
                 n_estimators: int = 300, prior_weight: float = 10.0, seed: int = 0) -> None:
        self.encoding = encoding
        self.small_n = small_n
        self.target_transform = target_transform
        self.n_estimators = n_estimators
        self.prior_weight = prior_weight
        self.seed = seed

    def _fit_model(self, X, y):
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        seed = _seed(self.seed)
        rf = RandomForestRegressor(n_estimators=self.n_estimators, max_features=0.3, n_jobs=1, random_state=seed)
        if len(y) < self.small_n:
            self.mode_ = "rf+ridge"
            other = make_pipeline(StandardScaler(), Ridge(alpha=100.0))
        else:
            self.mode_ = "xgb+rf"
            other = xgb_regressor_class()(n_estimators=500, max_depth=6, learning_rate=0.05, subsample=0.8, colsample_bytree=0.8,
                                 n_jobs=1, random_state=seed, verbosity=0)
        self.models_ = [rf.fit(X, y), other.fit(X, y)]
        self._fit_prior(X, y)

    def _fit_prior(self, X: np.ndarray, y: np.ndarray) -> None:
        """The zero-cost prior (see the class docstring); sets ``prior_`` (None when there is none)."""
        from scipy.stats import kendalltau

        weight = float(self.prior_weight)
        if not np.isfinite(weight) or weight < 0:
            raise ValueError(f"prior_weight must be a finite number >= 0, got {self.prior_weight!r}")
        self.prior_, self.prior_weights_, self.prior_share_ = None, None, 0.0
        names = self.encoding_.get_feature_names_out()
        cols = [int(c) for c in proxy_columns(self.encoding_)]
        if weight == 0 or not cols or len(y) >= self.small_n:
            return
        Z = X[:, cols]
        std = Z.std(axis=0)
        taus = [kendalltau(Z[:, j], y)[0] if std[j] > 0 else np.nan for j in range(Z.shape[1])]
        w = np.clip(np.nan_to_num(np.asarray(taus, dtype=float), nan=0.0), 0.0, None)
        if w.sum() <= 0:
            logger.info("zero-cost prior off: no proxy has a positive Kendall tau with the training targets")
            return
        prior = {"cols": cols, "mean": Z.mean(axis=0), "scale": np.where(std > 0, std, 1.0), "weights": w / w.sum()}
        slope, intercept = np.polyfit(self._prior_score(Z, prior), y, 1)
        if not slope > 0:
            logger.info("zero-cost prior off: its least-squares line on the training set is not increasing")
            return
        self.prior_ = {**prior, "slope": float(slope), "intercept": float(intercept)}
        self.prior_weights_ = {str(names[c]): float(v) for c, v in zip(cols, prior["weights"])}
        self.prior_share_ = weight / (weight + len(y))

    @staticmethod
    def _prior_score(Z: np.ndarray, prior: dict) -> np.ndarray:
        """Weighted mean of the standardised proxy columns ``Z`` (before the fitted line)."""
        return ((Z - prior["mean"]) / prior["scale"]) @ prior["weights"]

    def _predict_model(self, X, return_std):
        parts = [np.ravel(m.predict(X)) for m in self.models_]
        pred = np.mean(parts, axis=0)
        share = self.prior_share_ if self.prior_ is not None else 0.0
        if self.prior_ is not None:
            p = self.prior_
            prior = p["slope"] * self._prior_score(X[:, p["cols"]], p) + p["intercept"]
            pred = (1.0 - share) * pred + share * prior
        if not return_std:
            return pred
        # Spread of the random forest's trees plus the disagreement of the two models, on the regression
        # scale; the prior is a fixed function of the proxies, so it only scales the model's part.
        trees = np.stack([t.predict(X) for t in self.models_[0].estimators_])
        var = trees.var(axis=0) + np.var(parts, axis=0)
        return pred, (1.0 - share) * np.sqrt(var)


register_estimator("xgb", XGBPredictor, description="XGBoost on an encoding (default graph_features)",
                   test_params={"n_estimators": 20})
register_estimator("rf", RandomForestPredictor, description="random forest on an encoding; std from tree spread",
                   test_params={"n_estimators": 20})
register_estimator("gp", GPPredictor, description="Gaussian process (Matern) on a standardised encoding; predictive std",
                   test_params={"n_restarts_optimizer": 0})
register_estimator("surrogate", SurrogatePredictor, description="recommended default: RF+ridge (<50 archs) or XGB+RF, graph_features+path",
                   test_params={"n_estimators": 20})
