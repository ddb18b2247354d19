"""Contract checks every registered estimator must pass (like scikit-learn's ``check_estimator``).

The common test ``tests/test_estimator_contract.py`` runs :func:`check_estimator`
over the whole registry, so an estimator added anywhere joins these checks
without new test code. The inputs are tiny and synthetic: a narrow NB201 space
(``C=4, N=1``) for anything that builds models, an 8-image random batch,
synthetic learning curves and losses, and synthetic proxy scores.

An estimator whose defaults are too slow for a unit test declares cheaper
ones at registration: ``register_estimator(name, cls, test_params={...})``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

from archscore.arch import Arch
from archscore.base import ESTIMATORS, Estimator, create_estimator, needed_context

#: Keyword options of the narrow NB201 space used in contract tests.
TEST_SPACE_OPTIONS = {"C": 4, "N": 1}


def make_contract_inputs(n: int = 12, seed: int = 0) -> tuple[list[Arch], np.ndarray, dict[str, Any]]:
    """Archs, targets and every kind of context, small and synthetic but structured.

    Targets grow with the number of convolutions in the cell, curves rise
    towards them, losses fall, and proxy scores correlate with them, so a
    learning estimator has something to learn.
    """
    import torch

    from archscore.spaces import get_space

    rng = np.random.default_rng(seed)
    space = get_space("nb201")
    # distinct, connected cells
    archs = [a for a in space.sample(4 * n, seed=seed) if a.is_connected()][:n]
    n_conv = np.array([sum(op.startswith("nor_conv") for op in a.ops) for a in archs], dtype=float)
    y = 60 + 5 * n_conv + rng.normal(0, 1, size=n)
    epochs = np.arange(1, 21)
    curves = [list(yi * (1 - np.exp(-epochs[: 10 + (i % 5)] / 6)) + rng.normal(0, 0.3, 10 + (i % 5))) for i, yi in enumerate(y)]
    losses = [list(2.3 * np.exp(-epochs[: len(c)] / (20 - ni))) for c, ni in zip(curves, n_conv)]
    scores = {a.key: {"synflow": float(yi + rng.normal(0, 2)), "jacov": float(-yi + rng.normal(0, 5))} for a, yi in zip(archs, y)}
    g = torch.Generator().manual_seed(seed)
    data = (torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g))
    context = {"data": data, "curves": curves, "losses": losses, "scores": scores}
    return archs, y, context


def context_for(est: Estimator, context: dict[str, Any]) -> dict[str, Any]:
    """The part of ``context`` that ``est`` declares it needs (extra context is legal but unneeded)."""
    wanted = needed_context(est.get_tags())
    return {k: v for k, v in context.items() if k in wanted}


def _subset(context: dict[str, Any], idx: list[int]) -> dict[str, Any]:
    out = dict(context)
    for key in ("curves", "losses"):
        if key in out:
            out[key] = [out[key][i] for i in idx]
    return out


def check_estimator(name: str) -> None:
    """Run the contract checks on the registered estimator ``name``; raises ``AssertionError``."""
    meta = ESTIMATORS.metadata(name)
    params = dict(meta.get("test_params", {}))
    est = create_estimator(name, **params)
    assert isinstance(est, Estimator), f"{name}: create_estimator must return an Estimator"

    # __init__ only stores parameters; clone and set_params round-trip them.
    got = est.get_params(deep=False)
    for k, v in params.items():
        assert got.get(k) is v or got.get(k) == v, f"{name}: parameter {k} not stored as given"
    assert not [a for a in vars(est) if a.endswith("_") and not a.startswith("_")], f"{name}: __init__ set fitted state"
    cloned = clone(est)
    assert type(cloned) is type(est) and cloned.get_params(deep=False).keys() == got.keys()
    est.set_params(**{k: v for k, v in got.items()})

    archs, y, full_context = make_contract_inputs()
    ctx = context_for(est, full_context)
    tags = est.get_tags()

    # A missing required context names what is missing.
    for key in ctx:
        partial = {k: v for k, v in ctx.items() if k != key}
        try:
            clone(est).fit(archs, y, **partial).predict(archs, **partial)
        except ValueError as exc:
            assert key in str(exc), f"{name}: error for missing {key}= does not name it: {exc}"
        else:
            raise AssertionError(f"{name}: no error when the required context {key}= is missing")

    if tags.requires_fit:
        try:
            clone(est).predict(archs, **ctx)
        except ValueError as exc:
            assert "fit" in str(exc)
        else:
            raise AssertionError(f"{name}: predict before fit did not raise")

    train, test = list(range(0, 8)), list(range(4, 12))
    fitted = clone(est).fit([archs[i] for i in train], y[train], **_subset(ctx, train))
    state = [a for a in vars(fitted) if a.endswith("_") and not a.startswith("_")]
    assert state, f"{name}: fit stored no state ending in '_'"
    test_archs, test_ctx = [archs[i] for i in test], _subset(ctx, test)
    pred = fitted.predict(test_archs, **test_ctx)
    assert pred.shape == (len(test),), f"{name}: predict returned shape {pred.shape}"
    assert np.all(np.isfinite(pred)), f"{name}: non-finite predictions {pred}"

    # Determinism: a fresh clone fitted the same way predicts the same.
    again = clone(est).fit([archs[i] for i in train], y[train], **_subset(ctx, train)).predict(test_archs, **test_ctx)
    np.testing.assert_allclose(again, pred, rtol=1e-6, atol=1e-9, err_msg=f"{name}: not deterministic")

    # Reordering the architectures reorders the predictions.
    rev = list(reversed(range(len(test))))
    rev_pred = fitted.predict([test_archs[i] for i in rev], **_subset(test_ctx, rev))
    np.testing.assert_allclose(rev_pred, pred[rev], rtol=1e-6, atol=1e-9, err_msg=f"{name}: order-dependent predictions")

    if tags.output.supports_std:
        mean, std = fitted.predict(test_archs, return_std=True, **test_ctx)
        assert mean.shape == std.shape == (len(test),)
        assert np.all(np.isfinite(std)) and np.all(std >= 0), f"{name}: bad predictive std {std}"
    else:
        try:
            fitted.predict(test_archs, return_std=True, **test_ctx)
        except ValueError:
            pass
        else:
            raise AssertionError(f"{name}: return_std=True accepted without supports_std")

    # score() is Kendall's tau against the targets
    tau = fitted.score(test_archs, y[test], **test_ctx)
    assert -1.0 <= tau <= 1.0
