"""MeCo (Jiang et al., NeurIPS 2023) and its provider ``meco`` (per-module minimum correlation eigenvalues)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from archscore.proxies.base import Provider, register_provider, register_proxy


def min_correlation_eigenvalue(output: Any) -> float | None:
    """MeCo's term of one module output: the minimum eigenvalue of the channel correlation of the FIRST sample's features.

    The output (the first element of a tuple/list output) is reshaped to
    (channels, positions) for sample 0; the channel correlation matrix has its
    NaN/inf entries set to 0; its minimum eigenvalue comes from the symmetric
    solver in float64. Returns 0.0 when there is a single position per channel
    (the reference's all-NaN matrix, zeroed), and None for outputs that are not
    floating-point tensors with a channel dimension or give a non-finite value
    (skipped).
    """
    t = output
    if isinstance(t, (tuple, list)):
        t = t[0] if t and isinstance(t[0], torch.Tensor) else None
    if not isinstance(t, torch.Tensor) or t.dim() < 2 or not torch.is_floating_point(t):
        return None
    fea = t[0].detach().reshape(t.shape[1], -1).to(torch.float64)
    if fea.shape[1] < 2 or fea.shape[0] < 1:
        return 0.0  # correlation undefined -> zeroed, as the reference's nan -> 0
    corr = torch.corrcoef(fea)
    corr = torch.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)
    v = float(torch.linalg.eigvalsh(corr).min())
    return v if math.isfinite(v) else None


@register_provider
class ModuleCorrelationEigenvalues(Provider):
    """The list of :func:`min_correlation_eigenvalue` of every module's output, in call order.

    A forward hook on every module (containers included). Only forward hooks:
    rides on the shared forward (or a forward-only pass).
    """

    name = "meco"
    description = "per-module minimum eigenvalues of feature correlation matrices"

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.values: list[float] = []

    def hooks(self, model: nn.Module) -> list[Any]:
        self.values = []
        return [m.register_forward_hook(self._hook) for m in model.modules()]

    def _hook(self, mod, inp, output) -> None:
        v = min_correlation_eigenvalue(output)
        if v is not None:
            self.values.append(v)

    def result(self) -> list[float]:
        return list(self.values)


@register_proxy(
    "meco", higher_is_better=True, needs_labels=False, needs_data=True, removes_bn=False, uses=(ModuleCorrelationEigenvalues,),
    description="MeCo: sum over modules of the minimum eigenvalue of the channel correlation matrix of one sample's features",
    citation="Jiang et al., MeCo: Zero-Shot NAS with One Data and Single Forward Pass via Minimum Eigenvalue of Correlation, NeurIPS 2023",
)
def meco(session) -> float:
    """MeCo (Jiang et al., NeurIPS 2023).

    As in the authors' NAS-Bench-201 code: a forward hook on every module
    (containers included) takes the module's output for the FIRST sample of
    the batch, reshapes it to (channels, positions), computes the channel
    correlation matrix (NaN/inf entries set to 0) and its minimum eigenvalue
    (:func:`min_correlation_eigenvalue`); the score is the sum over modules.
    The forward pass is the shared train-mode pass over the real batch ("one
    data" = the features of one sample). Deviation: the symmetric eigen-solver
    in float64 replaces the general one; outputs with a single position per
    channel contribute 0 (the reference gets an all-NaN matrix, zeroed, whose
    eigenvalues are 0).
    """
    return float(sum(session.shared(ModuleCorrelationEigenvalues)))
