"""Hardware-aware estimation: analytic costs, measured latency, few-shot latency prediction, Pareto tools.

Importing this package registers the ``hw:*`` estimators:

* ``hw:params``, ``hw:macs``, ``hw:peak_memory`` (inference or training),
  ``hw:peak_sram`` (MCUNet-style): analytic, no device needed;
* ``hw:latency``: measured on the running device (:func:`measure_latency`);

Functions work on any ``torch.nn.Module``: :func:`count_params`,
:func:`count_macs`, :func:`peak_memory`, :func:`peak_sram`.
"""

from archscore.hardware.analytic import count_macs, count_params, peak_memory, peak_sram
from archscore.hardware.estimators import CostEstimator, MacsCost, ParamsCost, PeakMemoryCost, PeakSramCost
from archscore.hardware.latency import LatencyEstimator, LatencyResult, measure_latency

__all__ = [
    "CostEstimator",
    "LatencyEstimator",
    "LatencyResult",
    "measure_latency",
    "MacsCost",
    "ParamsCost",
    "PeakMemoryCost",
    "PeakSramCost",
    "count_macs",
    "count_params",
    "peak_memory",
    "peak_sram",
]
