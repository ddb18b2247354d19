"""Validation of learning curves and the percent-versus-fraction rule.

Rules (documented in the learning-curve guide and in every public function that takes a curve):

* A curve is a 1-D sequence of per-epoch accuracies; entry ``i`` is the value
  after epoch ``i + 1``.
* ``NaN`` marks a missing epoch: it is skipped when fitting and the epochs of
  the other values are kept. ``inf`` is an error. A curve with no finite value
  is an error; so is a curve longer than ``total_epochs``.
* Scale: ``scale="auto"`` reads a curve whose largest finite value exceeds 1
  as percent (valid range ``[0, 100]``), otherwise as a fraction (``[0, 1]``).
  ``scale=100`` or ``scale=1`` says it explicitly. Values outside
  ``[0, scale]`` are an error. Predictions come back in the curve's scale.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def resolve_scale(scale: Any, values: np.ndarray) -> float:
    """The accuracy scale (1.0 or 100.0) for ``values`` under the documented rule."""
    if isinstance(scale, str):
        if scale != "auto":
            raise ValueError(f"scale must be 'auto', 1 or 100, got {scale!r}")
        finite = values[np.isfinite(values)]
        return 100.0 if finite.size and float(finite.max()) > 1.0 else 1.0
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)) or float(scale) not in (1.0, 100.0):
        raise ValueError(f"scale must be 'auto', 1 (fractions) or 100 (percent), got {scale!r}")
    return float(scale)


def as_curve(curve: Sequence[float], *, name: str = "curve", total_epochs: int | None = None) -> np.ndarray:
    """Validate one curve and return it as a float array (NaN = missing epoch)."""
    try:
        arr = np.asarray(curve, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a sequence of numbers (per-epoch accuracies), got {type(curve).__name__}") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one value per epoch), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; need at least one observed epoch")
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains an infinite value at epoch {int(np.flatnonzero(np.isinf(arr))[0]) + 1}")
    if not np.isfinite(arr).any():
        raise ValueError(f"{name} has no finite value (all {arr.size} entries are NaN)")
    if total_epochs is not None and arr.size > total_epochs:
        raise ValueError(f"{name} has {arr.size} epochs, more than total_epochs={total_epochs}; pass the full training length")
    return arr


def check_total_epochs(total_epochs: Any, who: str, label: str = "total_epochs") -> int:
    """``total_epochs`` (or another epoch count named ``label``) as a positive int, or a ValueError saying what is expected."""
    if total_epochs is None:
        raise ValueError(f"{who} needs {label}=<int>, the epoch whose accuracy to predict (e.g. 200 for NAS-Bench-201)")
    if isinstance(total_epochs, bool) or not isinstance(total_epochs, (int, np.integer)) or total_epochs < 1:
        raise ValueError(f"{label} must be a positive integer, got {total_epochs!r}")
    return int(total_epochs)


def check_range(arr: np.ndarray, scale: float, name: str = "curve") -> None:
    """Raise unless every finite value lies in ``[0, scale]``."""
    finite = arr[np.isfinite(arr)]
    bad = finite[(finite < 0) | (finite > scale)]
    if bad.size:
        unit = "percent, [0, 100]" if scale == 100.0 else "fractions, [0, 1]"
        raise ValueError(f"{name} has value {bad[0]!r} outside the valid range for {unit}; pass scale= explicitly if the rule guessed wrong")


def prepare_curves(curves: Sequence[Sequence[float]], scale: Any = "auto", total_epochs: int | None = None, name: str = "curves"):
    """Validate a batch of curves with one shared scale (inferred over the whole batch).

    Returns
    -------
    list of ndarray (values divided by the scale, i.e. fractions), scale
    """
    if curves is None:
        raise ValueError(f"{name}= is required")
    arrs = [as_curve(c, name=f"{name}[{i}]", total_epochs=total_epochs) for i, c in enumerate(curves)]
    if not arrs:
        return [], resolve_scale(scale, np.zeros(0)) if not isinstance(scale, str) else 1.0
    s = resolve_scale(scale, np.concatenate(arrs))
    for i, a in enumerate(arrs):
        check_range(a, s, name=f"{name}[{i}]")
    return [a / s for a in arrs], s
