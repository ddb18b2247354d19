"""Fisher pruning saliency (Theis et al. 2018; Turner et al. 2020) as a zero-cost proxy, and its provider ``fisher``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from archscore.proxies.base import Provider, register_provider, register_proxy
from archscore.proxies.engine import Chunk


def out_channels(m: nn.Module) -> int:
    """Number of output channels of a conv/linear layer (dim 1 of a transposed conv's weight)."""
    return int(m.weight.shape[1] if isinstance(m, nn.modules.conv._ConvTransposeNd) else m.weight.shape[0])


def channel_products(layer: nn.Module, act: torch.Tensor, grad: torch.Tensor | None) -> torch.Tensor:
    """Fisher's per-sample, per-channel sum of activation x gradient (``g_nk``), shape (N, channels)."""
    if grad is None:
        grad = torch.zeros_like(act)
    prod = act * grad.detach()
    if isinstance(layer, nn.Linear):
        # channels are the last dim; sum over any token dims in between
        return prod.reshape(prod.shape[0], -1, prod.shape[-1]).sum(1)
    return prod.reshape(prod.shape[0], prod.shape[1], -1).sum(2)


@register_provider
class ChannelSaliency(Provider):
    """Per conv/linear layer, per output channel ``k``: ``Δ_k = 0.5 * mean_n g_nk^2`` with ``g_nk = sum_spatial(a * dL/da)``.

    Forward hooks capture each layer's output activation ``a`` on the shared
    forward; the shared loss backward also differentiates w.r.t. those
    activations. A layer applied several times (weight sharing) contributes
    one term per call.
    """

    name = "fisher"
    description = "per-channel activation x activation-gradient statistics of conv/linear outputs"
    loss_backward = True

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.layers = session.layers
        self.rows: dict[tuple[int, int], list[torch.Tensor]] = {}  # (layer index, call index) -> per-chunk g_nk
        self.captured: list[tuple[int, int, torch.Tensor]] = []  # (layer index, call index, output) of this chunk
        self.calls: dict[int, int] = {}  # per-chunk call counter of each layer

    def hooks(self, model: nn.Module) -> list[Any]:
        def capture(idx: int):
            def hook(mod, inp, output):
                if isinstance(output, torch.Tensor) and output.requires_grad:
                    c = self.calls.get(idx, 0)
                    self.calls[idx] = c + 1
                    self.captured.append((idx, c, output))
            return hook

        return [m.register_forward_hook(capture(i)) for i, m in enumerate(self.layers)]

    def loss_inputs(self, chunk: Chunk) -> list[torch.Tensor]:
        return [a for _, _, a in self.captured]

    def after_loss_backward(self, chunk: Chunk, weight_grads: tuple, extra_grads: tuple) -> None:
        for (li, ci, a), g in zip(self.captured, extra_grads):
            self.rows.setdefault((li, ci), []).append(channel_products(self.layers[li], a.detach(), g))

    def end_chunk(self, chunk: Chunk) -> None:
        self.captured.clear()
        self.calls.clear()

    def result(self) -> list[torch.Tensor]:
        self.session.require_layers("fisher")
        per_layer = [torch.zeros(out_channels(m), device=self.session.device) for m in self.layers]
        for (li, _), rows in self.rows.items():
            g_nk = torch.cat(rows, 0)
            per_layer[li] = per_layer[li] + 0.5 * g_nk.pow(2).mean(0)
        return per_layer


@register_proxy(
    "fisher", higher_is_better=True, needs_labels=True, needs_data=True, removes_bn=False, uses=(ChannelSaliency,),
    description="Fisher channel saliency 0.5*mean_n(sum_hw act*grad)^2, broadcast over each channel's weights",
    citation="Theis et al., Faster gaze prediction with dense networks and Fisher pruning, 2018; Turner et al., BlockSwap, ICLR 2020; "
             "Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021",
)
def fisher(session) -> float:
    """Fisher pruning saliency (Theis et al. 2018; Turner et al. 2020), as in Abdelfattah et al. 2021.

    For each conv/linear output channel ``k``: ``g_nk = sum_spatial(a * dL/da)``
    over the layer's output activation ``a`` of sample ``n``, and
    ``Δ_k = 0.5 * mean_n g_nk^2`` (provider :class:`ChannelSaliency`). Like the
    reference, each channel's value is broadcast over that channel's weights
    before summing, i.e. multiplied by the fan-in ``weight[k].numel()``.
    Deviation: for linear layers applied to token sequences (N, T, D) the
    channel axis is the last one (the reference would sum over features
    instead).
    """
    total = 0.0
    for m, f in zip(session.layers, session.shared(ChannelSaliency)):
        fan_in = m.weight[0].numel()
        total += float(f.abs().sum()) * fan_in
    return total
