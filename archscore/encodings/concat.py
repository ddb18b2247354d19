"""Concatenation of encodings (``"graph_features+zc"``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

from archscore.arch import Arch
from archscore.encodings.base import Encoding


class ConcatEncoding(Encoding):
    """Features of several encodings side by side.

    Parameters
    ----------
    encodings : list of (name, Encoding)
        The parts, in column order. Their parameters are reachable as
        ``<name>__<param>`` through ``get_params``/``set_params`` (as in
        scikit-learn's ``FeatureUnion``); names must be unique. Built by
        ``get_encoding("a+b")`` from registered names.

    Attributes
    ----------
    fitted_ : list of (name, Encoding)
        The fitted clones of the parts.
    part_slices_ : dict of str to slice
        The output columns of each part, by part name: ``X[:, enc.part_slices_["zc"]]``
        are the ``zc`` part's features (so nobody has to parse feature names).

    Notes
    -----
    Feature names are prefixed by the part's name: ``"zc/zc:synflow"``.
    """

    uses_graph = False  # the parts check their own vocabularies

    def __init__(self, encodings: list[tuple[str, Encoding]]) -> None:
        self.encodings = encodings

    @property
    def needs_scores(self) -> bool:  # type: ignore[override]
        return any(e.needs_scores for _, e in self._parts())

    def _parts(self) -> list[tuple[str, Encoding]]:
        parts = list(self.encodings)
        for item in parts:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], Encoding)):
                raise TypeError(f"ConcatEncoding parts must be (name, Encoding) pairs, got {item!r}")
        names = [n for n, _ in parts]
        if len(set(names)) != len(names):
            raise ValueError(f"ConcatEncoding part names must be unique, got {names}")
        if not parts:
            raise ValueError("ConcatEncoding needs at least one part")
        return parts

    # scikit-learn's nested parameter protocol, as in FeatureUnion
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"encodings": self.encodings}
        if deep:
            for name, enc in self.encodings:
                out[name] = enc
                for k, v in enc.get_params(deep=True).items():
                    out[f"{name}__{k}"] = v
        return out

    def set_params(self, **params: Any) -> "ConcatEncoding":
        if "encodings" in params:
            self.encodings = params.pop("encodings")
        parts = dict(self._parts())
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in parts:
                raise ValueError(f"invalid parameter {key!r} for ConcatEncoding; parts are {list(parts)}")
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                self.encodings = [(n, value if n == name else e) for n, e in self.encodings]
        for name, sub in nested.items():
            dict(self.encodings)[name].set_params(**sub)
        return self

    def _fit(self, archs: list[Arch], **context: Any) -> None:
        self.fitted_ = [(n, clone(e).fit(archs, **context)) for n, e in self._parts()]
        self.feature_names_ = [f"{n}/{f}" for n, e in self.fitted_ for f in e.feature_names_]
        self.part_slices_ = {}
        start = 0
        for n, e in self.fitted_:
            self.part_slices_[n] = slice(start, start + e.n_features_out_)
            start += e.n_features_out_

    def _transform(self, archs: list[Arch], **context: Any) -> np.ndarray:
        return np.hstack([e.transform(archs, **context) for _, e in self.fitted_])
