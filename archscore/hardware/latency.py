"""Measured latency on the running device: ``measure_latency`` and the ``hw:latency`` estimator.

The protocol is the usual one for inference latency: a copy of the model in
eval mode under :func:`torch.inference_mode`, a fixed input, ``warmup``
untimed calls, then ``repeats`` timed calls, each timed alone with
:func:`time.perf_counter` (and :func:`torch.cuda.synchronize` before and
after on a GPU, whose kernels run asynchronously). The median is the
estimate, the interquartile range the spread. The thread count is set for the
measurement and restored afterwards. Timings on a shared or busy machine are
noisy: report the spread with the medians.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from archscore.base import Tags, register_estimator
from archscore.hardware.estimators import CostEstimator


@dataclass(frozen=True)
class LatencyResult:
    """Timings of one model, in milliseconds."""

    times_ms: tuple[float, ...]  #: every timed call, in order

    @property
    def median_ms(self) -> float:
        """The latency estimate."""
        return float(np.median(self.times_ms))

    @property
    def iqr_ms(self) -> float:
        """Interquartile range of the timed calls (the spread)."""
        q1, q3 = np.percentile(self.times_ms, [25, 75])
        return float(q3 - q1)


def _check_count(name: str, v: Any, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


def measure_latency(model, input_shape: Sequence[int], *, warmup: int = 5, repeats: int = 20, threads: int | None = 1,
                    device: str = "cpu") -> LatencyResult:
    """Time forward passes of ``model`` on a random input of ``input_shape`` (batch dimension first).

    Parameters
    ----------
    model : torch.nn.Module
        Copied to ``device``; the caller's model is not moved or changed.
    input_shape : sequence of int
        Full input shape, e.g. ``(1, 3, 32, 32)``; the batch size is its first entry.
    warmup : int, default=5
        Untimed calls first (allocator, caches, cuDNN autotuning).
    repeats : int, default=20
        Timed calls.
    threads : int or None, default=1
        ``torch.set_num_threads`` during the measurement (restored afterwards);
        ``None`` keeps the current setting.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``...

    Returns
    -------
    LatencyResult
    """
    import torch

    warmup = _check_count("warmup", warmup, 0)
    repeats = _check_count("repeats", repeats, 1)
    if threads is not None:
        threads = _check_count("threads", threads, 1)
    shape = tuple(input_shape)
    if len(shape) < 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in shape):
        raise ValueError(f"input_shape must be the full input shape with the batch dimension first, e.g. (1, 3, 32, 32); got {input_shape!r}")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    net = copy.deepcopy(model).to(dev).eval()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(dev)
    before = torch.get_num_threads()
    times = []
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        with torch.inference_mode():
            for _ in range(warmup):
                net(x)
            sync()
            for _ in range(repeats):
                sync()
                t0 = time.perf_counter()
                net(x)
                sync()
                times.append((time.perf_counter() - t0) * 1e3)
    finally:
        torch.set_num_threads(before)
    return LatencyResult(tuple(times))


@register_estimator(
    "hw:latency",
    description="measured median forward latency on the running device (units: ms); return_std gives IQR/1.349",
    test_params={"space_options": {"C": 4, "N": 1}, "warmup": 1, "repeats": 3},
)
class LatencyEstimator(CostEstimator):
    """Median measured latency of each architecture's network, in milliseconds.

    Measurements are not deterministic: two calls differ by the machine's
    noise. ``predict(archs, return_std=True)`` also returns the spread, as the
    interquartile range of the timed calls divided by 1.349 (the normal-consistent
    robust standard deviation); :func:`measure_latency` gives the raw timings.

    Parameters
    ----------
    warmup, repeats, threads, device
        See :func:`measure_latency`.
    input_shape, batch_size, num_classes, space_options
        See :class:`~archscore.hardware.estimators.CostEstimator`.
    """

    units = "ms"

    def __init__(self, warmup: int = 5, repeats: int = 20, threads: int | None = 1, device: str = "cpu",
                 input_shape: Sequence[int] = (3, 32, 32), batch_size: int = 1, num_classes: int = 10,
                 space_options: dict[str, Any] | None = None) -> None:
        super().__init__(input_shape=input_shape, batch_size=batch_size, num_classes=num_classes, space_options=space_options)
        self.warmup = warmup
        self.repeats = repeats
        self.threads = threads
        self.device = device

    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.output.supports_std = True
        tags.output.comparable_across_calls = True  # same units; noisy, not ranks
        tags.output.deterministic = False  # measured timings vary between calls
        return tags

    def measure(self, arch) -> LatencyResult:
        """Raw timings of one architecture."""
        return measure_latency(self.build(arch), self._full_shape(), warmup=self.warmup, repeats=self.repeats,
                               threads=self.threads, device=self.device)

    def _predict(self, archs, return_std: bool = False, **context):
        results = [self.measure(a) for a in archs]
        med = np.array([r.median_ms for r in results])
        if return_std:
            return med, np.array([r.iqr_ms / 1.349 for r in results])
        return med
