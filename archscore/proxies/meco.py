"""MeCo (Jiang et al., NeurIPS 2023) and its provider ``meco`` (per-module minimum correlation eigenvalues)."""

from __future__ import annotations

import math
import weakref
from typing import Any

import torch
from torch import nn

from archscore.proxies.base import Provider, ProxyUndefinedError, register_provider, register_proxy


def min_correlation_eigenvalue(output: Any) -> float | None:
    """MeCo's term of one module output: the minimum eigenvalue of the channel correlation of the FIRST sample's features.

    The output (the first element of a tuple/list output) is reshaped to
    (channels, positions) for sample 0; the channel correlation matrix has its
    NaN/inf entries set to 0; its minimum eigenvalue comes from the symmetric
    solver in float64; when there are no more positions than channels the
    matrix is singular (rank at most positions - 1) and its minimum eigenvalue
    is exactly 0, returned without a solve. Returns None (skipped) when there
    is a single position per channel (a Pearson correlation needs at least two
    observations; the reference zeroes its all-NaN matrix, whose eigenvalues
    are 0, so skipping leaves every sum unchanged) and for outputs that are not
    floating-point tensors with a channel dimension or give a non-finite value.
    A single channel gives its 1x1 correlation matrix's entry: 1, or 0 for a
    constant channel (deviation: the reference's solver raises on it).
    """
    t = _feature_tensor(output)
    if t is None:
        return None
    fea = t[0].detach().reshape(t.shape[1], -1).to(torch.float64)
    if fea.shape[1] < 2 or fea.shape[0] < 1:
        return None  # correlation undefined (one observation per channel): contributes nothing
    if fea.shape[1] <= fea.shape[0] and bool(torch.isfinite(fea).all()):
        # centred over P positions, C channels span at most P - 1 < C dimensions: the correlation matrix is
        # singular and its minimum eigenvalue exactly 0 (a solver returns rounding noise of ~1e-15 instead)
        return 0.0
    # one channel: corrcoef returns a scalar; as a 1x1 matrix its eigenvalue is the channel's self-correlation
    # (1, or 0 for a constant channel after the NaN is zeroed), where the reference's eigen-solver fails on a scalar
    corr = torch.corrcoef(fea).reshape(fea.shape[0], fea.shape[0])
    corr = torch.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)
    v = float(torch.linalg.eigvalsh(corr).min())
    return v if math.isfinite(v) else None


def _feature_tensor(output: Any) -> torch.Tensor | None:
    """The tensor MeCo reads from a module output (the first element of a tuple/list), or None."""
    t = output
    if isinstance(t, (tuple, list)):
        t = t[0] if t and isinstance(t[0], torch.Tensor) else None
    if not isinstance(t, torch.Tensor) or t.dim() < 2 or not torch.is_floating_point(t):
        return None
    return t


def _version(t: torch.Tensor) -> int | None:
    """The tensor's in-place version counter (None for inference tensors, which have none: never reused)."""
    try:
        return int(t._version)
    except RuntimeError:
        return None


@register_provider
class ModuleCorrelationEigenvalues(Provider):
    """The list of :func:`min_correlation_eigenvalue` of every module's output, in call order.

    A forward hook on every module (containers included). Only forward hooks:
    rides on the shared forward (or a forward-only pass).

    A module whose output is the very tensor another module already returned,
    unchanged since (same object, same autograd version counter: no in-place
    write in between), gets that module's value again without a second
    eigen-solve: an ``nn.Sequential`` returns its last child's output, a model
    its head's, an empty shortcut its input. The list, and so the sum, is the
    same as computing every term afresh.
    """

    name = "meco"
    description = "per-module minimum eigenvalues of feature correlation matrices"

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.values: list[float] = []
        # id(tensor) -> (weak reference, version counter, value) of outputs already solved; a weak
        # reference so that a freed tensor whose id is reused is not mistaken for the old one
        self._solved: dict[int, tuple[Any, int, float | None]] = {}

    def hooks(self, model: nn.Module) -> list[Any]:
        self.values, self._solved = [], {}
        return [m.register_forward_hook(self._hook) for m in model.modules()]

    def _hook(self, mod, inp, output) -> None:
        t = _feature_tensor(output)
        if t is None:
            return
        version = _version(t)
        hit = self._solved.get(id(t))
        if version is not None and hit is not None and hit[0]() is t and hit[1] == version:
            v = hit[2]
        else:
            v = min_correlation_eigenvalue(t)
            if version is not None:
                self._solved[id(t)] = (weakref.ref(t), version, v)
        if v is not None:
            self.values.append(v)

    def result(self) -> list[float]:
        self._solved = {}
        if not self.values:
            raise ProxyUndefinedError(
                "meco needs module outputs with at least two positions per channel (conv feature maps, token "
                "sequences): the Pearson correlation of one sample's channels is undefined when each channel is a "
                "single number, as for every layer of an MLP on (N, features) inputs")
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
    in float64 replaces the general one, and a module output with no more
    positions than channels (e.g. 512 channels of a 4x4 map) adds its exact
    minimum eigenvalue 0 (the matrix is singular) where the reference's
    float32 solver adds rounding noise.

    Features with a single position per channel (2-D outputs (N, features) of
    linear layers, globally pooled (N, C, 1, 1) maps) contribute nothing: the
    paper's Pearson correlation of the channels of ONE sample's feature map
    needs at least two positions per channel (the reference computes an
    all-NaN matrix there, zeroes it and adds its eigenvalue 0, which gives the
    same sum). A model with no such module output at all (an MLP on flat
    features) therefore has no MeCo: undefined (NaN with the reason under the
    default policy), not the reference's meaningless 0.0 for every MLP.
    """
    return float(sum(session.shared(ModuleCorrelationEigenvalues)))
