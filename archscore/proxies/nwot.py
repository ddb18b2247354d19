"""NASWOT (Mellor et al., ICML 2021) and its provider ``relu_kernel`` (binary ReLU-code agreement kernel)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from archscore.proxies.base import Provider, ProxyUndefinedError, register_provider, register_proxy

#: Activation modules whose input sign gives NASWOT's binary codes (read by a forward hook on the module).
RELU_TYPES: tuple[type, ...] = (nn.ReLU, nn.ReLU6, nn.LeakyReLU)

#: Functional ReLU-family activations seen through a ``TorchFunctionMode``: the code is ``x > 0`` of their input.
#: Calls made inside a :data:`RELU_TYPES` module are not counted again (the module's hook already read them).
FUNCTIONAL_ACTIVATIONS: frozenset = frozenset(f for f in (
    F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_,
    F.relu6, F.leaky_relu, F.leaky_relu_, F.elu, F.elu_, F.selu, torch.selu, torch.selu_, F.celu, F.celu_,
    F.gelu, F.silu, F.mish, F.hardswish,
) if f is not None)


def binary_codes(x: torch.Tensor) -> torch.Tensor:
    """(N, units) float32 codes ``x > 0`` of an activation's input."""
    return (x.reshape(x.shape[0], -1) > 0).to(torch.float32)


class _FunctionalActivations(TorchFunctionMode):
    """Calls ``record(input)`` for every functional ReLU-family activation outside a ReLU module."""

    def __init__(self, record, inside_module) -> None:
        super().__init__()
        self.record, self.inside_module = record, inside_module

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in FUNCTIONAL_ACTIVATIONS and not self.inside_module():
            x = args[0] if args else kwargs.get("input")
            if isinstance(x, torch.Tensor):
                self.record(x)  # before the call: an in-place activation overwrites its input
        return func(*args, **kwargs)


@register_provider
class ReluCodeKernel(Provider):
    """``K[i, j]``: over all ReLU-family activations and units, the positions where samples ``i`` and ``j`` have the same code ``x > 0``.

    Two sources of activations, each counted once: a forward hook on every
    ReLU-type module (:data:`RELU_TYPES`) reads its input ``x``; a
    ``TorchFunctionMode`` entered around the shared forward sees functional
    calls (:data:`FUNCTIONAL_ACTIVATIONS`: ``F.relu``, ``torch.relu``,
    ``x.relu()``, ``F.gelu``, ``F.silu``, ... and so also ``nn.GELU`` or
    ``nn.SiLU`` modules, which call them) made outside a ReLU-type module and
    reads their input, if its first dimension is the batch. With ``c`` the
    (N, units) binary codes and ``r`` their row sums, the agreements
    ``c c^T + (1-c)(1-c)^T`` equal ``units - r_i - r_j + 2 c c^T`` (exact
    integers in float32 for fewer than 2^24 units), accumulated in float64.
    Only forward hooks: rides on the shared forward (or a forward-only pass).
    """

    name = "relu_kernel"
    description = "NASWOT kernel of binary ReLU-family activation codes over the batch"

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.K: torch.Tensor | None = None
        self._depth = 0  # > 0 while a RELU_TYPES module runs

    def hooks(self, model: nn.Module) -> list[Any]:
        self.K, self._depth = None, 0
        handles = []
        for m in model.modules():
            if isinstance(m, RELU_TYPES):
                handles.append(m.register_forward_pre_hook(self._enter))
                handles.append(m.register_forward_hook(self._hook))
        return handles

    def forward_context(self):
        return _FunctionalActivations(self._functional, lambda: self._depth > 0)

    def _enter(self, mod, inp) -> None:
        self._depth += 1

    def _hook(self, mod, inp, output) -> None:
        self._depth -= 1
        x = inp[0].detach() if inp else None
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            return
        self._add(binary_codes(x))

    def _functional(self, x: torch.Tensor) -> None:
        if x.dim() < 2 or x.shape[0] != self.session.n or not torch.is_floating_point(x):
            return
        self._add(binary_codes(x.detach()))

    def _add(self, c: torch.Tensor) -> None:
        d = c.shape[1]
        rows = c.sum(1)
        k = (2.0 * (c @ c.t()) - rows[:, None] - rows[None, :] + d).to(torch.float64)
        self.K = k if self.K is None else self.K + k

    def result(self) -> torch.Tensor:
        if self.K is None:
            raise ProxyUndefinedError("nwot needs ReLU-family activations (nn.ReLU/ReLU6/LeakyReLU modules, or functional relu, "
                                      "gelu, silu, elu, selu, celu, mish, hardswish) to read binary codes; the model calls none")
        return self.K


@register_proxy(
    "nwot", higher_is_better=True, needs_labels=False, needs_data=True, removes_bn=False, uses=(ReluCodeKernel,),
    description="NASWOT: log|det K| of the Hamming-agreement kernel of binary ReLU codes",
    citation="Mellor et al., Neural Architecture Search without Training, ICML 2021",
)
def nwot(session) -> float:
    """NASWOT score (Mellor et al. 2021): ``log |det K|``.

    Every ReLU turns its input into a binary code per sample (``x > 0``);
    ``K[i, j]`` counts, over all ReLUs and units, the positions where samples
    ``i`` and ``j`` agree (``N_A`` minus the Hamming distance), as in the
    authors' code and NAS-Bench-Suite-Zero (provider :class:`ReluCodeKernel`).
    ReLUs are ``nn.ReLU``/``ReLU6``/``LeakyReLU`` modules AND functional calls
    (``F.relu``, ``torch.relu``, ``x.relu()``), each counted once, so a ResNet
    applying ``F.relu`` in its blocks is scored on all its activations.

    Non-ReLU activations (GELU, SiLU/Swish, Mish, Hardswish, ELU, SELU, CELU;
    modules or functional) use the same code, the sign of the pre-activation
    ``x > 0``. Justification: NASWOT's code records which side of its
    threshold each unit is on (the linear region it is in). GELU is
    ``x Φ(x)`` (Hendrycks & Gimpel, "Gaussian Error Linear Units", 2016), the
    input times a gate that keeps it with probability ``Φ(x)``; SiLU/Swish is
    ``x σ(x)`` (Elfwing et al. 2018; Ramachandran et al. 2017) and Mish
    ``x tanh(softplus(x))``: in each the gate is more open than shut exactly
    when ``x > 0``, and they become the ReLU (code ``x > 0``) as their
    smoothing vanishes; ELU/SELU/CELU and Hardswish are the identity (up to
    scale) for ``x > 0`` and saturate below, as a leaky ReLU. This extension
    is ours: the paper only uses ReLU networks. Sigmoid, tanh and softmax have
    no such gate and are not read. Undefined (``nan_policy``) when the model
    calls none of these activations.

    Deviation: when ``K`` is singular (samples with identical codes at every
    ReLU, e.g. a NAS-Bench-201 cell whose ReLUs all see input-independent
    zeros) the reference returns ``-inf``; here the score is
    ``log det(K + I)`` instead, a finite value far below that of any network
    that tells its inputs apart (about ``log(N * units)`` when all codes are
    equal, versus hundreds for NB201 networks that see their input).
    """
    k = session.shared(ReluCodeKernel).cpu().numpy()
    sign, logdet = np.linalg.slogdet(k)
    if sign == 0 or not np.isfinite(logdet):
        sign, logdet = np.linalg.slogdet(k + np.eye(k.shape[0]))
    return float(logdet)
