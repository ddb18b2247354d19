"""Rank your own candidate models with zero-cost proxies, in one call.

::

    import archscore
    candidates = {"resnet-8": lambda: ResNet(depth=8), "resnet-14": lambda: ResNet(depth=14)}
    table = archscore.rank(candidates, data=(x, y), estimator="zc:ensemble")

Candidates are ``torch.nn.Module`` instances, zero-argument factories that
return one, or a dict ``name -> either``; they need not come from a registered
search space. Every candidate is scored with the same minibatch in one
:func:`archscore.proxies.compute` call (shared passes), and the scores are
aggregated over the whole list, so ``zc:ensemble``'s ranks are relative to the
candidates of this call.

Rules
-----
* Models are never modified: ``compute`` works on a deep copy.
* A factory is called exactly once, right after ``torch.manual_seed(init_seed)``
  (``init_seed`` defaults to ``seed``), inside :func:`torch.random.fork_rng`,
  so the caller's torch RNG state is left as it was.
* ``nan_policy="warn"`` by default: a proxy undefined for a candidate (e.g.
  ``zen`` without BatchNorm) is NaN in its column, with a warning, and is left
  out of that candidate's ensemble aggregate
  (:func:`archscore.predictors.zc_ensemble.rank_aggregate`).
* The ensemble is ``zc:ensemble``'s: from 50 candidates on, a proxy that ranks
  them against ``flops`` is left out
  (:func:`archscore.predictors.zc_ensemble.anchored_proxies`).
"""

from __future__ import annotations

import logging
import numbers
import sys
import types
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from archscore.predictors.zc_ensemble import AGGREGATIONS, DEFAULT_ANCHOR, DEFAULT_PROXIES, ensemble_score
from archscore.proxies import NAN_POLICIES, compute, list_proxies, proxy_info

logger = logging.getLogger(__name__)

#: ``estimator=`` values understood by :func:`rank` besides ``zc:<proxy>``.
ENSEMBLE = "zc:ensemble"


def check_seed(seed: Any, name: str = "seed") -> int:
    """``seed`` as a Python int; bools, floats (``1.5``), strings (``"abc"``) and negatives raise ``ValueError``."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {seed!r} ({type(seed).__name__})")
    return int(seed)


def _named_candidates(candidates: Any) -> list[tuple[str, Any]]:
    """``[(name, model_or_factory)]`` from a dict, a list or a single model/factory."""
    import torch.nn as nn

    if isinstance(candidates, Mapping):
        items = [(str(k), v) for k, v in candidates.items()]
    elif isinstance(candidates, nn.Module) or callable(candidates):
        raise TypeError("candidates must be a list or dict of models/factories; wrap a single one in a list")
    elif isinstance(candidates, (str, bytes)) or not isinstance(candidates, Iterable):
        raise TypeError(f"candidates must be a list or dict of nn.Module or zero-argument factories, got {type(candidates).__name__}")
    else:
        items = []
        for i, c in enumerate(candidates):
            items.append((_default_name(c, i), c))
    if not items:
        raise ValueError("candidates is empty: nothing to rank")
    for name, c in items:
        if not (isinstance(c, nn.Module) or callable(c)):
            raise TypeError(f"candidate {name!r} is a {type(c).__name__}, expected an nn.Module or a zero-argument factory")
    names = [n for n, _ in items]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"candidate names must be unique; repeated: {dupes}")
    return items


def _default_name(c: Any, i: int) -> str:
    label = type(c).__name__ if not callable(c) or hasattr(c, "forward") else getattr(c, "__name__", type(c).__name__)
    return f"{i}:{label}"


def _resolve_estimator(estimator: str, proxies: Sequence[str] | None) -> tuple[str, list[str]]:
    """``("ensemble" | "single", proxy names)`` for ``estimator``."""
    if not isinstance(estimator, str) or not estimator.startswith("zc:"):
        raise ValueError(
            f"rank scores models that are not architectures of a space, so it takes zero-cost estimators only: "
            f"'zc:ensemble' or 'zc:<proxy>' with <proxy> in {', '.join(list_proxies())}; got {estimator!r}")
    known = list_proxies()
    if estimator == ENSEMBLE:
        names = list(DEFAULT_PROXIES if proxies is None else proxies)
        if isinstance(proxies, str) or not names:
            raise ValueError(f"proxies must be a non-empty list of proxy names, got {proxies!r}")
        unknown = [p for p in names if p not in known]
        if unknown:
            raise ValueError(f"unknown proxies {unknown}; registered: {', '.join(known)}")
        return "ensemble", names
    if proxies is not None:
        raise ValueError(f"proxies= only applies to estimator='zc:ensemble', not {estimator!r}")
    proxy = estimator[3:]
    if proxy not in known:
        raise ValueError(f"unknown estimator {estimator!r}: 'zc:ensemble' or 'zc:<proxy>' with <proxy> in {', '.join(known)}")
    return "single", [proxy]


def _materialise(name: str, candidate: Any, init_seed: int) -> Any:
    """The candidate's module; a factory is called once under ``torch.manual_seed(init_seed)``."""
    import torch
    import torch.nn as nn

    if isinstance(candidate, nn.Module):
        return candidate
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = candidate()
    if not isinstance(model, nn.Module):
        raise TypeError(f"factory of candidate {name!r} returned a {type(model).__name__}, expected an nn.Module")
    return model


def rank(
    candidates: Any,
    data: tuple[Any, Any] | Sequence[Any],
    estimator: str = ENSEMBLE,
    *,
    proxies: Sequence[str] | None = None,
    method: str = "log_rank",
    seed: int = 0,
    init_seed: int | None = None,
    loss_fn: Callable | None = None,
    device: Any = None,
    nan_policy: str = "warn",
    progress: bool = True,
    anchor: str | None = DEFAULT_ANCHOR,
) -> pd.DataFrame:
    """Score and rank candidate models on one minibatch.

    Parameters
    ----------
    candidates : list or dict
        ``nn.Module`` instances or zero-argument factories returning one; a
        dict gives their names (a list names them ``"<i>:<class or function>"``).
    data : (inputs, targets)
        One minibatch; ``targets`` may be None when no proxy needs labels.
    estimator : str, default="zc:ensemble"
        ``"zc:ensemble"`` (log-rank aggregation of ``proxies``, see
        :mod:`archscore.predictors.zc_ensemble`) or ``"zc:<proxy>"`` for one proxy.
    proxies : list of str, optional
        Proxies of the ensemble (default :data:`~archscore.predictors.zc_ensemble.DEFAULT_PROXIES`).
    method : {"log_rank", "mean_rank"}, default="log_rank"
        Aggregation rule of the ensemble.
    seed : int, default=0
        Seed of the proxy computation.
    init_seed : int, optional
        ``torch.manual_seed`` before each factory call (default: ``seed``).
    loss_fn : callable, optional
        Passed to :func:`archscore.proxies.compute` (cross-entropy by default).
    device : None, "auto", "cpu" or "cuda"
        Where to compute the proxies.
    nan_policy : {"warn", "raise", "ignore"}, default="warn"
        For proxies undefined on a candidate (see :func:`archscore.proxies.compute`).
    progress : bool, default=True
        tqdm progress bar over the candidates.
    anchor : str or None, default="flops"
        The ensemble's complexity anchor, as ``zc:ensemble``'s (from 50
        candidates, proxies ranking them against it are left out); None: off.

    Returns
    -------
    pandas.DataFrame
        One row per candidate, best first: ``name``, ``score`` (higher is
        better: the ensemble's aggregate, or the proxy's raw value negated
        when lower is better), ``rank`` (1 = best; ties share the lowest
        rank; a NaN score ranks last) and one column per proxy with its raw
        score.
    """
    kind, names = _resolve_estimator(estimator, proxies)
    if method not in AGGREGATIONS:
        raise ValueError(f"method must be one of {AGGREGATIONS}, got {method!r}")
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    seed = check_seed(seed)
    init = seed if init_seed is None else check_seed(init_seed, "init_seed")
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence) or len(data) != 2:
        raise ValueError("data must be a pair (inputs, targets); targets may be None when no proxy needs labels")
    inputs, targets = data
    items = _named_candidates(candidates)

    rows = []
    for name, candidate in tqdm(items, desc="ranking candidates", unit="model", disable=not progress):
        model = _materialise(name, candidate, init)
        try:
            rows.append(compute(model, inputs, targets, names, seed=seed, loss_fn=loss_fn, device=device, nan_policy=nan_policy))
        except ValueError as exc:
            raise ValueError(f"candidate {name!r}: {exc}") from exc
    table = {p: np.array([r[p] for r in rows], dtype=float) for p in names}
    direction = {p: bool(proxy_info(p)["higher_is_better"]) for p in names}
    if kind == "ensemble":
        score = ensemble_score(table, direction, method=method, anchor=anchor)  # as zc:ensemble
    else:
        (p,) = names
        score = table[p] if direction[p] else -table[p]
    frame = pd.DataFrame({"name": [n for n, _ in items], "score": score})
    frame["rank"] = frame["score"].rank(ascending=False, method="min", na_option="bottom").astype(int)
    for p in names:
        frame[p] = table[p]
    return frame.sort_values(["rank", "name"], kind="stable").reset_index(drop=True)


class _CallableModule(types.ModuleType):
    """Importing ``archscore.rank`` (the module) makes it the package attribute ``archscore.rank``,
    shadowing the function of the same name; calling the module calls :func:`rank`, so
    ``archscore.rank(...)`` works whichever of the two the attribute holds."""

    def __call__(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        return rank(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["rank", "check_seed", "ENSEMBLE"]
