"""Provider ``weight_grads``: the loss gradient of every conv/linear weight, from the shared backward.

Read by ``grad_norm``, ``snip`` and ``plain``. As in the original zero-cost
code (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021;
SamsungLabs/zero-cost-nas): the model is in train mode (BatchNorm uses batch
statistics), the loss is the mean cross-entropy over the batch (or the
``loss_fn`` given to :func:`~archscore.proxies.compute`), and only conv and
linear weights (:func:`~archscore.proxies.prunable_layers`) are scored; the
proxies sum a per-layer quantity over those layers.
"""

from __future__ import annotations

from typing import Any

import torch

from archscore.proxies.base import Provider, ProxyUndefinedError, register_provider


@register_provider
class WeightGrads(Provider):
    """``dL/dW`` for each conv/linear weight ``W`` (list, in :func:`prunable_layers` order).

    Summed over chunks (each chunk's loss weighted by its share of the batch),
    this is the full-batch mean-loss gradient.
    """

    name = "weight_grads"
    description = "gradient of the loss w.r.t. every conv/linear weight (one forward + backward)"
    loss_backward = True

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.grads = [torch.zeros_like(m.weight) for m in session.layers]

    def after_loss_backward(self, chunk: Any, weight_grads: tuple, extra_grads: tuple) -> None:
        for i, g in enumerate(weight_grads):
            if g is not None:
                self.grads[i] += g.detach()

    def result(self) -> list[torch.Tensor]:
        if not self.session.layers:
            raise ProxyUndefinedError("it scores the loss gradient of conv/linear weights and the model has no conv/linear layer")
        return self.grads


def weights(session: Any) -> list[torch.Tensor]:
    """The conv/linear weights, in the order of :class:`WeightGrads`' gradients."""
    return [m.weight for m in session.layers]
