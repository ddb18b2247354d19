"""One estimator interface for every performance-estimation strategy.

Zero-cost proxies, learning-curve extrapolators, surrogate predictors and
cheap-training estimators all subclass :class:`Estimator`, which follows
scikit-learn's estimator contract:

* ``__init__`` only stores its keyword parameters (no validation, no work);
* ``get_params`` / ``set_params`` / :func:`sklearn.base.clone` work;
* state learned by ``fit`` ends in ``_``;
* ``predict`` returns a float array of shape ``(n,)``: higher means better
  expected final accuracy.

Context keywords
----------------
``fit`` and ``predict`` take the architectures plus named context:

``data=(inputs, targets)``
    A minibatch (tensors or arrays) for estimators that run the network.
``curves=``
    Partial learning curves, one per-epoch sequence per architecture.
``losses=``
    Per-epoch training losses, one sequence per architecture.
``scores=``
    Precomputed proxy scores: a mapping from ``arch.key`` or architecture
    string to ``{proxy: value}``, or a ``pandas.DataFrame`` indexed that way.

Seeds
-----
One word for randomness everywhere: an estimator whose predictions depend
on random numbers takes the integer parameter ``seed`` (default 0), and the
same ``seed`` with the same inputs gives the same predictions (the
``check_deterministic_under_seed`` contract check). It seeds everything the
estimator draws: scikit-learn's and XGBoost's ``random_state``, torch
(inside :func:`torch.random.fork_rng`, so the caller's RNG state is left
alone), data splits and folds. No estimator takes ``random_state``; the
name appears only where archscore passes ``seed`` on to a library.
Estimators that build networks have one more, ``init_seed``: the seed set
right before each network is built (default: ``seed``), kept apart so that
a published protocol's initialisation (e.g. 42 for the NAS-Bench-201
reference scores) can be combined with any ``seed``. Command-line flags use
the same names: ``--seed`` and ``--init-seed``.

Subclasses declare what they need through typed tags (:class:`Tags`) and
implement ``_fit`` and ``_predict``; the base class validates the input and the
context once, for everyone.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from archscore.arch import Arch
from archscore.metrics import kendall
from archscore.registry import Registry

logger = logging.getLogger(__name__)

#: Context keywords understood by estimators, with the form each one takes.
CONTEXT_KEYWORDS: dict[str, str] = {
    "data": "data=(inputs, targets): one minibatch of inputs (N, C, H, W) and integer class targets (N,)",
    "curves": "curves=[seq, ...]: one partial per-epoch learning curve per architecture",
    "losses": "losses=[seq, ...]: one per-epoch training-loss sequence per architecture",
    "scores": "scores={arch key or string: {proxy: value}} or a DataFrame indexed by arch key/string",
}

@dataclass(slots=True)
class InputTags:
    """What an estimator needs besides the architectures (each ``needs_*`` names a context keyword)."""

    needs_data: bool = False  #: context data=(inputs, targets)
    needs_curves: bool = False  #: context curves=
    needs_losses: bool = False  #: context losses=
    needs_scores: bool = False  #: context scores=
    allows_none_archs: bool = False  #: archs may be None when only curves/losses are known
    needs_targets: bool = True  #: with ``requires_fit``: fit needs targets ``y`` (False: fit learns from context alone)


#: The values ``OutputTags.units`` may take.
UNITS: tuple[str, ...] = ("accuracy", "score", "target", "ms", "bytes", "MACs", "params")


@dataclass(slots=True)
class OutputTags:
    """What the predictions mean."""

    higher_is_better: bool = True  #: higher prediction = better expected accuracy
    #: one of :data:`UNITS`: "accuracy" = in the units of the accuracies ``y`` (or curves)
    #: it was given; "score" = a monotone ranking score with no unit; "target" = the units
    #: of whatever targets it was fitted on; physical units for cost estimators
    units: str = "score"
    #: False when scores are ranks within one ``predict`` call (compare nothing across calls)
    comparable_across_calls: bool = True
    supports_std: bool = False  #: ``predict(..., return_std=True)`` works
    deterministic: bool = True  #: same inputs, same predictions (False for measured timings)


@dataclass(slots=True)
class Tags:
    """Typed, per-instance tags (scikit-learn >= 1.6's ``__sklearn_tags__`` pattern).

    Subclasses override :meth:`Estimator.__archscore_tags__`, start from
    ``super().__archscore_tags__()`` and set fields; the dataclasses have slots,
    so a misspelt tag raises ``AttributeError`` (checked when the class is
    defined, i.e. at import).
    """

    family: str = "other"  #: "proxy", "surrogate", "curve", "training", "baseline", ...
    requires_fit: bool = False  #: predict raises NotFittedError before fit
    input: InputTags = field(default_factory=InputTags)
    output: OutputTags = field(default_factory=OutputTags)


_CONTEXT_TAGS = {"data": "needs_data", "curves": "needs_curves", "losses": "needs_losses", "scores": "needs_scores"}


def needed_context(tags: Tags) -> list[str]:
    """The context keywords an estimator with these tags needs."""
    return [key for key, tag in _CONTEXT_TAGS.items() if getattr(tags.input, tag)]


class Estimator(BaseEstimator):
    """Base class: estimates the final accuracy (or a monotone proxy of it) of architectures.

    Subclasses implement ``_fit(archs, y, **context)`` (optional) and
    ``_predict(archs, **context)`` returning an array of shape ``(n,)``, or a
    ``(mean, std)`` pair when called with ``return_std=True`` and tagged
    ``supports_std``.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        try:
            default = cls()
        except TypeError:  # a class whose parameters have no defaults: its tags are checked on use
            return
        tags = default.__archscore_tags__()  # a misspelt tag raises here, at import
        if not isinstance(tags, Tags):
            raise TypeError(f"{cls.__name__}.__archscore_tags__ must return archscore.base.Tags, got {type(tags).__name__}")

    # ----------------------------------------------------------------- tags
    def __archscore_tags__(self) -> Tags:
        """This instance's tags; subclasses extend ``super().__archscore_tags__()``."""
        return Tags()

    def get_tags(self) -> Tags:
        """This instance's :class:`Tags` (they may depend on its parameters)."""
        return self.__archscore_tags__()

    # ------------------------------------------------------------ interface
    def fit(self, archs: Sequence[Arch] | None, y: Sequence[float] | None = None, **context: Any) -> "Estimator":
        """Fit on architectures ``archs`` with targets ``y`` (ignored when not needed).

        Returns
        -------
        self
        """
        tags = self.get_tags()
        archs = self._check_archs(archs, context, tags)
        self._check_context(context, len(archs), tags)
        if tags.requires_fit and tags.input.needs_targets:
            if y is None:
                raise ValueError(f"{type(self).__name__}.fit needs targets y, got None")
            y = check_targets(y, len(archs))
        elif y is not None:
            y = check_targets(y, len(archs))
        self._fit(archs, y, **context)
        self.n_fit_ = len(archs)
        return self

    def predict(self, archs: Sequence[Arch] | None, *, return_std: bool = False, **context: Any):
        """Predict a score per architecture; higher means better expected accuracy.

        Parameters
        ----------
        archs : sequence of Arch
            Architectures to score (``None`` entries allowed only by estimators
            tagged ``allows_none_archs``).
        return_std : bool, default=False
            Also return the predictive standard deviation (estimators tagged
            ``supports_std`` only).
        **context
            Named context, see the module docstring.

        Returns
        -------
        ndarray of shape (n,), or a tuple ``(mean, std)`` of two such arrays.
        """
        tags = self.get_tags()
        if tags.requires_fit and not hasattr(self, "n_fit_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(archs, y) before predict")
        if return_std and not tags.output.supports_std:
            raise ValueError(f"{type(self).__name__} gives no predictive uncertainty; call predict without return_std")
        archs = self._check_archs(archs, context, tags)
        self._check_context(context, len(archs), tags)
        out = self._predict(archs, return_std=return_std, **context) if return_std else self._predict(archs, **context)
        if return_std:
            mean, std = out
            return _as_prediction(mean, len(archs), type(self).__name__), _as_prediction(std, len(archs), type(self).__name__)
        return _as_prediction(out, len(archs), type(self).__name__)

    def fit_predict(self, archs, y=None, **context):
        """``fit`` then ``predict`` on the same architectures."""
        return self.fit(archs, y, **context).predict(archs, **context)

    def score(self, archs: Sequence[Arch] | None, y: Sequence[float], **context: Any) -> float:
        """Kendall's tau-b between the predictions and the true accuracies ``y``."""
        return kendall(y, self.predict(archs, **context))

    # ------------------------------------------------------------- override
    def _fit(self, archs: list[Arch], y: np.ndarray | None, **context: Any) -> None:  # noqa: D401
        """Learn from the data (no-op by default)."""

    def _predict(self, archs: list[Arch], **context: Any):  # pragma: no cover - abstract
        raise NotImplementedError

    # ----------------------------------------------------------- validation
    def _check_archs(self, archs: Sequence[Arch] | None, context: dict[str, Any], tags: Tags) -> list:
        allows_none = tags.input.allows_none_archs
        if archs is None:
            if not allows_none:
                raise ValueError(f"{type(self).__name__} needs a sequence of Arch, got None")
            n = _context_length(context)
            if n is None:
                raise ValueError("archs=None needs a per-architecture context (curves= or losses=) to know how many to predict")
            return [None] * n
        if isinstance(archs, Arch):
            raise TypeError("archs must be a sequence of Arch; wrap a single Arch in a list")
        archs = list(archs)
        for i, a in enumerate(archs):
            if a is None and allows_none:
                continue
            if not isinstance(a, Arch):
                raise TypeError(f"archs[{i}] is a {type(a).__name__}, expected archscore.Arch")
        return archs

    def _check_context(self, context: dict[str, Any], n: int, tags: Tags) -> None:
        unknown = [k for k in context if k not in CONTEXT_KEYWORDS]
        if unknown:
            k = unknown[0]
            close = difflib.get_close_matches(k, list(CONTEXT_KEYWORDS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"unknown context keyword {k!r}{hint}; known: {', '.join(CONTEXT_KEYWORDS)}")
        for key in needed_context(tags):
            if context.get(key) is None:
                raise ValueError(f"{type(self).__name__} needs the context keyword {CONTEXT_KEYWORDS[key]}")
        for key in ("curves", "losses"):
            seqs = context.get(key)
            if seqs is not None and len(seqs) != n:
                raise ValueError(f"{key}= has {len(seqs)} entries but there are {n} architectures")


def _context_length(context: dict[str, Any]) -> int | None:
    for key in ("curves", "losses"):
        if context.get(key) is not None:
            return len(context[key])
    return None


def check_targets(y: Sequence[float], n: int) -> np.ndarray:
    """Validate a target vector: 1-D, finite, length ``n``."""
    arr = np.asarray(y, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"targets y must be one-dimensional, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"got {arr.shape[0]} targets for {n} architectures")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"targets y contain {bad.size} non-finite value(s) (NaN/inf), first at index {bad[0]}")
    return arr


def _as_prediction(values: Any, n: int, who: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.shape != (n,):
        raise RuntimeError(f"{who} returned {arr.shape[0]} predictions for {n} architectures")
    return arr


# --------------------------------------------------------------------- registry
#: Every estimator by name. The families register into it when imported; the
#: plugins below are imported on the first look-up, so importing the core stays cheap.
ESTIMATORS = Registry("estimator", plugins=(
    "archscore.baselines",
    "archscore.proxies",
    "archscore.predictors",
    "archscore.oneshot",
    "archscore.hardware",
))


def register_estimator(name: str, cls: Any = None, *, defaults: dict[str, Any] | None = None, **metadata: Any):
    """Register an estimator class under ``name`` (usable as a class decorator).

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"lc:svr"``.
    cls : type
        An :class:`Estimator` subclass.
    defaults : dict, optional
        Keyword parameters this name creates the class with (``"lc:svr"`` is
        ``LcRegressor`` with ``model="svr"``); the caller's parameters override them.
    **metadata
        ``description``, and ``test_params``: parameters that make the estimator
        cheap enough for the contract checks.
    """
    return ESTIMATORS.register(name, cls, defaults=defaults, **metadata)


def create_estimator(name: str, **params: Any) -> Estimator:
    """Create a registered estimator, e.g. ``create_estimator("zc:synflow", seed=0)``."""
    return ESTIMATORS.create(name, **params)


def list_estimators(pattern: str = "*", *, family: str | None = None) -> list[str]:
    """Names of registered estimators matching the shell-style ``pattern``, optionally of one tag ``family``."""
    names = ESTIMATORS.list(pattern)
    if family is None:
        return names
    return [n for n in names if ESTIMATORS.create(n).get_tags().family == family]
