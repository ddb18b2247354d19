"""Analytic cost estimators over architectures: ``hw:params``, ``hw:macs``, ``hw:peak_memory``, ``hw:peak_sram``.

Each builds the architecture's network through its search space
(``get_space(arch.space, **space_options).build(arch, num_classes)``) and
applies one function of :mod:`archscore.hardware.analytic`. Predictions are
costs (lower is better), in the units named by ``tags.output.units``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from archscore.base import Estimator, Tags, register_estimator
from archscore.hardware import analytic
from archscore.spaces import get_space


class CostEstimator(Estimator):
    """Base class of estimators that compute a hardware cost of each architecture's network.

    Parameters
    ----------
    input_shape : tuple of int, default=(3, 32, 32)
        One sample's input shape (no batch dimension).
    batch_size : int, default=1
        Batch size of the pass the cost is computed for.
    num_classes : int, default=10
        Outputs of the classifier the space builds.
    space_options : dict, optional
        Keyword options of the search space (e.g. ``{"C": 4, "N": 1}`` for a narrow NB201).
    """

    units: str = ""

    def __init__(self, input_shape: Sequence[int] = (3, 32, 32), batch_size: int = 1, num_classes: int = 10,
                 space_options: dict[str, Any] | None = None) -> None:
        self.input_shape = input_shape
        self.batch_size = batch_size
        self.num_classes = num_classes
        self.space_options = space_options

    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.family = "hardware"
        tags.output.higher_is_better = False
        tags.output.units = self.units
        return tags

    def _full_shape(self) -> tuple[int, ...]:
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        return (int(self.batch_size),) + tuple(int(s) for s in self.input_shape)

    def build(self, arch):
        """The untrained network of ``arch`` built by its space."""
        return get_space(arch.space, **(self.space_options or {})).build(arch, num_classes=self.num_classes)

    def cost(self, model, shape: tuple[int, ...]) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict(self, archs, **context):
        shape = self._full_shape()
        return np.array([float(self.cost(self.build(a), shape)) for a in archs])


#: Cheap parameters for the contract checks: a narrow NB201 (same as archscore.testing.TEST_SPACE_OPTIONS).
_TEST = {"space_options": {"C": 4, "N": 1}}


@register_estimator("hw:params", description="parameter count of the built network (units: params)", test_params=_TEST)
class ParamsCost(CostEstimator):
    """Number of parameter elements of the built network."""

    units = "params"

    def cost(self, model, shape):
        return analytic.count_params(model)


@register_estimator("hw:macs", description="multiply-accumulates of one forward pass of conv/linear layers (units: MACs)", test_params=_TEST)
class MacsCost(CostEstimator):
    """Multiply-accumulates of one forward pass of ``batch_size`` inputs (:func:`~archscore.hardware.analytic.count_macs`)."""

    units = "MACs"

    def cost(self, model, shape):
        return analytic.count_macs(model, shape)


@register_estimator("hw:peak_memory", description="peak activation memory of a forward (inference) or forward+backward (training) pass, traced on the meta device (units: bytes)", test_params=_TEST)
class PeakMemoryCost(CostEstimator):
    """Peak activation memory in bytes (:func:`~archscore.hardware.analytic.peak_memory`).

    Parameters
    ----------
    mode : {"inference", "training"}, default="inference"
    input_shape, batch_size, num_classes, space_options
        See :class:`CostEstimator`.
    """

    units = "bytes"

    def __init__(self, mode: str = "inference", input_shape: Sequence[int] = (3, 32, 32), batch_size: int = 1,
                 num_classes: int = 10, space_options: dict[str, Any] | None = None) -> None:
        super().__init__(input_shape=input_shape, batch_size=batch_size, num_classes=num_classes, space_options=space_options)
        self.mode = mode

    def cost(self, model, shape):
        return analytic.peak_memory(model, shape, mode=self.mode)


@register_estimator("hw:peak_sram", description="MCUNet-style activation SRAM for layer-by-layer execution: largest input+output of any layer (units: bytes)", test_params=_TEST)
class PeakSramCost(CostEstimator):
    """Largest input + output of any layer in bytes (:func:`~archscore.hardware.analytic.peak_sram`).

    Parameters
    ----------
    bytes_per_element : int, default=1
        Activation element size (1: int8, as in MCUNet).
    input_shape, batch_size, num_classes, space_options
        See :class:`CostEstimator`.
    """

    units = "bytes"

    def __init__(self, bytes_per_element: int = 1, input_shape: Sequence[int] = (3, 32, 32), batch_size: int = 1,
                 num_classes: int = 10, space_options: dict[str, Any] | None = None) -> None:
        super().__init__(input_shape=input_shape, batch_size=batch_size, num_classes=num_classes, space_options=space_options)
        self.bytes_per_element = bytes_per_element

    def cost(self, model, shape):
        return analytic.peak_sram(model, shape, bytes_per_element=self.bytes_per_element)
