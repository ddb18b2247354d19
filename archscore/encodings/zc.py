"""Zero-cost proxy scores as features.

Following NAS-Bench-Suite-Zero (Krishnakumar, White, Zela, Tu, Safari & Hutter,
NeurIPS 2022 Datasets and Benchmarks), precomputed zero-cost proxy scores of an
architecture can be fed to a surrogate predictor as extra features; their
experiments show this improves predictors most at small training sizes. This
encoding reads the scores from the ``scores=`` context.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from archscore.arch import Arch
from archscore.encodings.base import Encoding
from archscore.encodings.registry import register_encoding


def _as_mapping(scores: Any) -> Mapping[Any, Mapping[str, Any]]:
    if isinstance(scores, pd.DataFrame):
        return scores.to_dict(orient="index")
    if isinstance(scores, Mapping):
        return scores
    raise TypeError(
        "scores= must be a mapping {arch key or string: {proxy: value}} or a DataFrame indexed by arch key/string, "
        f"got {type(scores).__name__}"
    )


def _lookup_names(arch: Arch) -> list[str]:
    """Names an architecture may be filed under: its space's string, exact spec, isomorphism key."""
    from archscore.spaces import SPACES

    names = []
    if arch.space in SPACES:
        try:
            names.append(SPACES.get(arch.space)().to_string(arch))
        except (ValueError, NotImplementedError):
            pass  # not expressible in the space's string format: fall back to spec/key
    return names + [arch.spec, arch.key]


def lookup_scores(arch: Arch, scores: Mapping[Any, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The score record of ``arch`` in ``scores`` (by space string, then spec, then key), or None."""
    for name in _lookup_names(arch):
        rec = scores.get(name)
        if rec is not None:
            return rec
    return None


@register_encoding("zc", description="precomputed zero-cost proxy scores from the scores= context as features")
class ZCEncoding(Encoding):
    """Zero-cost proxy scores (from ``scores=``) as features.

    ``scores`` maps an architecture to ``{proxy: value}``; an architecture is
    looked up by its space's string (``space.to_string(arch)``, when its space
    is registered), then :attr:`Arch.spec`, then :attr:`Arch.key` (shared by
    isomorphic cells). A ``DataFrame`` indexed by any of these works too.

    Parameters
    ----------
    proxies : sequence of str or None, default=None
        Proxies to use, in this column order; ``None``: every proxy with a
        numeric value for all ``fit`` architectures, sorted by name.
    impute : {None, "median"}, default=None
        ``None``: an architecture missing from ``scores`` (or a missing or NaN
        proxy value) raises a ``ValueError`` naming it. ``"median"``: use the
        proxy's median over the ``fit`` architectures instead and log nothing
        (documented imputation; ``n_imputed_`` counts them at fit).
    signed_log : bool, default=True
        Apply ``sign(v) * log1p(|v|)`` (monotone, so rankings are kept);
        proxies such as SynFlow span tens of orders of magnitude, which would
        swamp linear, GP and MLP predictors (trees are invariant to it).
        ``False`` gives the raw scores.
    """

    needs_scores = True
    uses_graph = False

    def __init__(self, proxies: Any = None, impute: str | None = None, signed_log: bool = True) -> None:
        self.proxies = proxies
        self.impute = impute
        self.signed_log = signed_log

    def _fit(self, archs: list[Arch], **context: Any) -> None:
        if self.impute not in (None, "median"):
            raise ValueError(f"impute must be None or 'median', got {self.impute!r}")
        scores = _as_mapping(context["scores"])
        records = [lookup_scores(a, scores) for a in archs]
        if self.proxies is None:
            found = [r for r in records if r is not None]
            if not found:
                raise ValueError(f"scores= has no entry for any of the {len(archs)} architectures (looked up by space string, spec and key)")
            names = set.intersection(*[{k for k, v in r.items() if _is_number(v)} for r in found])
            if not names:
                raise ValueError("scores= records share no numeric proxy value; pass proxies=[...]")
            self.proxies_ = tuple(sorted(names))
        else:
            self.proxies_ = tuple(str(p) for p in self.proxies)
            if not self.proxies_:
                raise ValueError("proxies= is empty; pass proxy names or None")
        self.medians_ = np.zeros(len(self.proxies_))
        if self.impute == "median":
            raw = self._raw(archs, records, allow_missing=True)
            self.medians_ = np.array([np.nanmedian(c) if np.isfinite(c).any() else 0.0 for c in raw.T])
            self.n_imputed_ = int((~np.isfinite(raw)).sum())
        self.feature_names_ = [f"zc:{p}" for p in self.proxies_]

    def _raw(self, archs: list[Arch], records: list, allow_missing: bool) -> np.ndarray:
        out = np.full((len(archs), len(self.proxies_)), np.nan)
        for i, (a, rec) in enumerate(zip(archs, records)):
            if rec is None:
                if allow_missing:
                    continue
                raise ValueError(
                    f"scores= has no entry for archs[{i}] ({_lookup_names(a)[0]!r}, key {a.key!r}); "
                    "add it, or use ZCEncoding(impute='median')"
                )
            for j, p in enumerate(self.proxies_):
                v = rec.get(p)
                if _is_number(v) and np.isfinite(float(v)):
                    out[i, j] = float(v)
                elif not allow_missing:
                    raise ValueError(
                        f"scores= entry of archs[{i}] ({_lookup_names(a)[0]!r}) has no finite value for proxy {p!r} "
                        f"(got {v!r}); add it, or use ZCEncoding(impute='median')"
                    )
        return out

    def _transform(self, archs: list[Arch], **context: Any) -> np.ndarray:
        scores = _as_mapping(context["scores"])
        records = [lookup_scores(a, scores) for a in archs]
        X = self._raw(archs, records, allow_missing=self.impute == "median")
        if self.impute == "median":
            X = np.where(np.isfinite(X), X, self.medians_)
        if self.signed_log:
            X = np.sign(X) * np.log1p(np.abs(X))
        return X


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
