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

Subclasses declare what they need through tags (see :data:`DEFAULT_TAGS`) and
implement ``_fit`` and ``_predict``; the base class validates the input and the
context once, for everyone.
"""

from __future__ import annotations

import difflib
import logging
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator

from archscore.arch import Arch
from archscore.registry import Registry

logger = logging.getLogger(__name__)

#: Context keywords understood by estimators, with the form each one takes.
CONTEXT_KEYWORDS: dict[str, str] = {
    "data": "data=(inputs, targets): one minibatch of inputs (N, C, H, W) and integer class targets (N,)",
    "curves": "curves=[seq, ...]: one partial per-epoch learning curve per architecture",
    "losses": "losses=[seq, ...]: one per-epoch training-loss sequence per architecture",
    "scores": "scores={arch key or string: {proxy: value}} or a DataFrame indexed by arch key/string",
}

#: Tags every estimator has; subclasses override some in ``_tags``.
DEFAULT_TAGS: dict[str, Any] = {
    "requires_fit": False,  # predict raises NotFittedError-like ValueError before fit
    "needs_data": False,  # needs context data=(inputs, targets)
    "needs_curves": False,  # needs context curves=
    "needs_losses": False,  # needs context losses=
    "needs_scores": False,  # needs context scores=
    "higher_is_better": True,  # predictions rank architectures with higher = better
    "supports_std": False,  # predict(..., return_std=True) works
    "allows_none_archs": False,  # archs may be None when only curves are known
    "family": "other",  # "proxy", "surrogate", "curve", "training"
}

_TAG_TO_CONTEXT = {"needs_data": "data", "needs_curves": "curves", "needs_losses": "losses", "needs_scores": "scores"}


class Estimator(BaseEstimator):
    """Base class: estimates the final accuracy (or a monotone proxy of it) of architectures.

    Subclasses implement ``_fit(archs, y, **context)`` (optional) and
    ``_predict(archs, **context)`` returning an array of shape ``(n,)``, or a
    ``(mean, std)`` pair when called with ``return_std=True`` and tagged
    ``supports_std``.
    """

    _tags: dict[str, Any] = {}

    # ----------------------------------------------------------------- tags
    @classmethod
    def get_tags(cls) -> dict[str, Any]:
        """Declared tags, merged from the class hierarchy over :data:`DEFAULT_TAGS`."""
        tags = dict(DEFAULT_TAGS)
        for klass in reversed(cls.__mro__):
            tags.update(klass.__dict__.get("_tags", {}))
        return tags

    # ------------------------------------------------------------ interface
    def fit(self, archs: Sequence[Arch] | None, y: Sequence[float] | None = None, **context: Any) -> "Estimator":
        """Fit on architectures ``archs`` with targets ``y`` (ignored when not needed).

        Returns
        -------
        self
        """
        tags = self.get_tags()
        archs = self._check_archs(archs, context)
        self._check_context(context, len(archs))
        if tags["requires_fit"]:
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
        if tags["requires_fit"] and not hasattr(self, "n_fit_"):
            raise ValueError(f"{type(self).__name__} is not fitted yet; call fit(archs, y) before predict")
        if return_std and not tags["supports_std"]:
            raise ValueError(f"{type(self).__name__} gives no predictive uncertainty; call predict without return_std")
        archs = self._check_archs(archs, context)
        self._check_context(context, len(archs))
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
        from archscore.eval.metrics import kendall

        return kendall(y, self.predict(archs, **context))

    # ------------------------------------------------------------- override
    def _fit(self, archs: list[Arch], y: np.ndarray | None, **context: Any) -> None:  # noqa: D401
        """Learn from the data (no-op by default)."""

    def _predict(self, archs: list[Arch], **context: Any):  # pragma: no cover - abstract
        raise NotImplementedError

    # ----------------------------------------------------------- validation
    def _check_archs(self, archs: Sequence[Arch] | None, context: dict[str, Any]) -> list:
        allows_none = self.get_tags()["allows_none_archs"]
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

    def _check_context(self, context: dict[str, Any], n: int) -> None:
        unknown = [k for k in context if k not in CONTEXT_KEYWORDS]
        if unknown:
            k = unknown[0]
            close = difflib.get_close_matches(k, list(CONTEXT_KEYWORDS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"unknown context keyword {k!r}{hint}; known: {', '.join(CONTEXT_KEYWORDS)}")
        tags = self.get_tags()
        for tag, key in _TAG_TO_CONTEXT.items():
            if tags[tag] and context.get(key) is None:
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
ESTIMATORS = Registry("estimator")


def register_estimator(name: str, factory: Any = None, **metadata: Any):
    """Register an estimator class or factory under ``name``.

    ``metadata`` may include ``test_params``: keyword parameters that make the
    estimator cheap enough for the common contract test.
    """
    return ESTIMATORS.register(name, factory, **metadata)


def create_estimator(name: str, **params: Any) -> Estimator:
    """Create a registered estimator, e.g. ``create_estimator("zc:synflow", seed=0)``."""
    return ESTIMATORS.get(name)(**params)


def list_estimators(pattern: str = "*") -> list[str]:
    """Names of registered estimators matching the shell-style ``pattern``."""
    return ESTIMATORS.list(pattern)
