"""NASWOT (Mellor et al., ICML 2021) and its provider ``relu_kernel`` (binary ReLU-code agreement kernel)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from archscore.proxies.base import Provider, ProxyUndefinedError, register_provider, register_proxy

#: Activation modules whose input sign gives NASWOT's binary codes.
RELU_TYPES: tuple[type, ...] = (nn.ReLU, nn.ReLU6, nn.LeakyReLU)


@register_provider
class ReluCodeKernel(Provider):
    """``K[i, j]``: over all ReLU modules and units, the positions where samples ``i`` and ``j`` have the same code ``x > 0``.

    A forward hook on every ReLU-type module reads its input ``x``. With
    ``c`` the (N, units) binary codes and ``r`` their row sums, the agreements
    ``c c^T + (1-c)(1-c)^T`` equal ``units - r_i - r_j + 2 c c^T`` (exact
    integers in float32 for fewer than 2^24 units), accumulated in float64.
    Only forward hooks: rides on the shared forward (or a forward-only pass).
    """

    name = "relu_kernel"
    description = "NASWOT kernel of binary ReLU codes over the batch"

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.K: torch.Tensor | None = None

    def hooks(self, model: nn.Module) -> list[Any]:
        self.K = None
        return [m.register_forward_hook(self._hook) for m in model.modules() if isinstance(m, RELU_TYPES)]

    def _hook(self, mod, inp, output) -> None:
        x = inp[0].detach() if inp else None
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            return
        c = (x.reshape(x.shape[0], -1) > 0).to(torch.float32)
        d = c.shape[1]
        rows = c.sum(1)
        k = (2.0 * (c @ c.t()) - rows[:, None] - rows[None, :] + d).to(torch.float64)
        self.K = k if self.K is None else self.K + k

    def result(self) -> torch.Tensor:
        if self.K is None:
            raise ProxyUndefinedError("nwot needs ReLU modules (nn.ReLU/ReLU6/LeakyReLU) to read binary activation codes; the model has none")
        return self.K


@register_proxy(
    "nwot", higher_is_better=True, needs_labels=False, needs_data=True, removes_bn=False, uses=(ReluCodeKernel,),
    description="NASWOT: log|det K| of the Hamming-agreement kernel of binary ReLU codes",
    citation="Mellor et al., Neural Architecture Search without Training, ICML 2021",
)
def nwot(session) -> float:
    """NASWOT score (Mellor et al. 2021): ``log |det K|``.

    Every ReLU (``nn.ReLU``, ``nn.ReLU6``, ``nn.LeakyReLU`` modules) turns its
    input into a binary code per sample (``x > 0``); ``K[i, j]`` counts, over
    all ReLUs and units, the positions where samples ``i`` and ``j`` agree
    (``N_A`` minus the Hamming distance), as in the authors' code and
    NAS-Bench-Suite-Zero (provider :class:`ReluCodeKernel`). Undefined
    (``nan_policy``) for models without ReLU modules, including those applying
    ``F.relu`` functionally.

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
