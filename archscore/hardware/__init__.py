"""Hardware-aware estimation: analytic costs, measured latency, few-shot latency prediction, Pareto tools.

Importing this package registers the ``hw:*`` estimators:

* ``hw:params``, ``hw:macs``, ``hw:peak_memory`` (inference or training),
  ``hw:peak_sram`` (MCUNet-style): analytic, no device needed;
* ``hw:latency``: measured on the running device (:func:`measure_latency`);
* ``hw:latency-predictor``: few-shot latency prediction with other devices as sources;

Multi-objective helpers: :func:`pareto_front`, :func:`non_dominated_sort`,
:func:`hypervolume`.

Functions work on any ``torch.nn.Module``: :func:`count_params`,
:func:`count_macs`, :func:`peak_memory`, :func:`peak_sram`.
"""

from archscore.hardware.analytic import count_macs, count_params, peak_memory, peak_sram
from archscore.hardware.estimators import CostEstimator, MacsCost, ParamsCost, PeakMemoryCost, PeakSramCost
from archscore.hardware.latency import LatencyEstimator, LatencyResult, measure_latency
from archscore.hardware.pareto import hypervolume, non_dominated_sort, pareto_front, pareto_mask
from archscore.hardware.predictor import LatencyPredictor, OpCountFeatures, nonnegative_ridge, used_nodes

__all__ = [
    "CostEstimator",
    "LatencyEstimator",
    "LatencyPredictor",
    "OpCountFeatures",
    "nonnegative_ridge",
    "used_nodes",
    "LatencyResult",
    "measure_latency",
    "MacsCost",
    "ParamsCost",
    "PeakMemoryCost",
    "PeakSramCost",
    "count_macs",
    "hypervolume",
    "non_dominated_sort",
    "pareto_front",
    "pareto_mask",
    "count_params",
    "peak_memory",
    "peak_sram",
]
