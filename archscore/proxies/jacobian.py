"""Provider ``jacobian``: per-sample input gradients of the summed logits, read by jacov and epe_nas.

For each sample ``n``, ``J_n = d(sum_c y_nc)/dx_n`` (the gradient of the
summed logits w.r.t. the input, as in the reference code:
``y.backward(ones_like(y))``), computed from the shared train-mode forward
pass with one input-only backward. For integer token-id inputs the gradient
is taken w.r.t. the output of the model's first embedding call (the first
continuous representation of the input; ``Chunk.wrt``).

Samples whose Jacobian is constant (zero variance: the network ignores its
input, e.g. a disconnected NAS-Bench-201 cell) have undefined correlations,
and the reference returns NaN. Here such a sample is treated as perfectly
correlated with every other one (correlation 1, :func:`correlation_matrix`),
the least informative case, so such networks score finitely and at the
bottom of both proxies.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from archscore.proxies.base import Provider, register_provider
from archscore.proxies.engine import Chunk

#: Regulariser of the eigenvalues / correlations, as in the reference code.
EPS = 1e-5


@register_provider
class InputJacobian(Provider):
    """``J`` of shape (N, input features): row ``n`` is ``d(sum_c logits_nc)/dx_n``."""

    name = "jacobian"
    description = "gradient of the summed logits w.r.t. each input sample"
    input_grad = True

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.parts: list[torch.Tensor] = []

    def after_forward(self, chunk: Chunk) -> None:
        (j,) = torch.autograd.grad(chunk.logits.sum(), chunk.wrt, retain_graph=chunk.retain_graph)
        self.parts.append(j.detach().reshape(chunk.stop - chunk.start, -1))

    def result(self) -> torch.Tensor:
        return torch.cat(self.parts, 0)


def correlation_matrix(j: np.ndarray) -> np.ndarray:
    """Row correlation matrix; rows with zero variance correlate 1 with everything."""
    j = np.asarray(j, dtype=np.float64)
    j = j - j.mean(axis=1, keepdims=True)
    norm = np.sqrt((j * j).sum(axis=1))
    ok = norm > 0
    z = np.zeros_like(j)
    z[ok] = j[ok] / norm[ok, None]
    c = z @ z.T
    c[~ok, :] = 1.0
    c[:, ~ok] = 1.0
    np.fill_diagonal(c, 1.0)
    return np.clip(c, -1.0, 1.0)
