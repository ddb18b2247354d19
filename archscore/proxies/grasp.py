"""GraSP (Wang et al., ICLR 2020) as a zero-cost proxy, and its provider ``hvp`` (Hessian-gradient product)."""

from __future__ import annotations

from typing import Any

import torch

from archscore.proxies.base import Provider, ProxyUndefinedError, register_provider, register_proxy
from archscore.proxies.engine import Chunk, twice_differentiable
from archscore.proxies.weight_grads import weights


@register_provider
class HessianGradient(Provider):
    """``H g`` for each conv/linear weight: the Hessian of the loss times its gradient ``g``.

    ``H g = d/dW sum(stop_grad(g) ⊙ g)``: the shared loss backward keeps its
    graph (``create_graph``) and this provider differentiates
    ``sum(g.detach() * g)`` once more, so ``g`` and ``H g`` come from one
    forward graph. When the batch is split into chunks (after a CUDA
    out-of-memory error), ``H g`` needs the FULL-batch ``g``: the provider
    sums ``g`` over the shared pass's chunks, then runs a second pass of its
    own (forward, loss gradient with graph, ``d/dW sum(g_full ⊙ g_chunk)``),
    which is how the original code computes GraSP in two passes.
    """

    name = "hvp"
    description = "Hessian-gradient product H g of the loss w.r.t. conv/linear weights (GraSP)"
    loss_backward = True
    double_backward = True

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.weights = weights(session)
        self.hvp = [torch.zeros_like(w) for w in self.weights]
        self.full_grads = [torch.zeros_like(w) for w in self.weights] if session.split > 1 else None
        self.broken: bool | None = None  # set by the first _check_twice_differentiable

    def keep_loss_graph(self) -> bool:
        return self.session.split == 1

    def after_loss_backward(self, chunk: Chunk, weight_grads: tuple, extra_grads: tuple) -> None:
        if self.full_grads is not None:  # split batch: H g in a second pass, once g is complete
            for i, g in enumerate(weight_grads):
                if g is not None:
                    self.full_grads[i] += g.detach()
            return
        self._check_twice_differentiable(weight_grads)
        z = sum((g.detach() * g).sum() for g in weight_grads if g is not None)
        self._add_hvp(z)

    def after_pass(self) -> None:
        if self.full_grads is None:
            return
        s = self.session
        for st, en in s.chunks():
            x, y = s.inputs[st:en].detach().clone(), s.targets[st:en]
            with twice_differentiable(True):
                loss = s.loss_fn(s.forward(x, y), y) * ((en - st) / s.n)
            gf = torch.autograd.grad(loss, self.weights, allow_unused=True, create_graph=True)
            self._check_twice_differentiable(gf)
            z = sum((g0 * g).sum() for g0, g in zip(self.full_grads, gf) if g is not None)
            self._add_hvp(z)

    def _check_twice_differentiable(self, grads: tuple) -> None:
        """Fail when the gradient's graph is cut: a backward that cannot be differentiated again.

        A custom ``autograd.Function`` marked ``@once_differentiable`` puts a
        ``DelayedError`` node in the graph of ``g``; autograd prunes that
        branch when differentiating ``g`` w.r.t. the weights, so ``H g`` would
        silently miss every path through it. The graph of the gradients is
        searched once for such nodes (a walk over its nodes, no numerics).
        """
        if self.broken is not None:
            return
        self.broken = False
        stack = [g.grad_fn for g in grads if g is not None and g.grad_fn is not None]
        seen: set[int] = set()
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            if type(node).__name__ in ("Error", "DelayedError"):  # the node @once_differentiable inserts
                self.broken = True
                return
            stack.extend(nxt for nxt, _ in node.next_functions)

    def _add_hvp(self, z: Any) -> None:
        if isinstance(z, torch.Tensor) and z.requires_grad:
            for i, h in enumerate(torch.autograd.grad(z, self.weights, allow_unused=True)):
                if h is not None:
                    self.hvp[i] += h.detach()

    def result(self) -> list[torch.Tensor]:
        self.session.require_layers("grasp")
        if self.broken:
            raise ProxyUndefinedError(
                "GraSP needs the Hessian-gradient product, but the loss gradient is not differentiable twice: the model "
                "uses a custom autograd.Function whose backward is marked @once_differentiable (or otherwise cut from the "
                "graph), so H g would silently miss every path through it")
        return self.hvp


@register_proxy(
    "grasp", higher_is_better=True, needs_labels=True, needs_data=True, removes_bn=False, uses=(HessianGradient,),
    description="GraSP gradient-signal preservation -W * (H g) summed over weights",
    citation="Wang et al., Picking Winning Tickets Before Training by Preserving Gradient Flow, ICLR 2020; "
             "Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021",
)
def grasp(session) -> float:
    """GraSP score ``sum -W ⊙ (H g)`` with temperature T=1 and one iteration (the reference's defaults).

    ``g`` is the loss gradient and ``H g`` the Hessian-gradient product of the
    same loss, obtained by differentiating ``sum(stop_grad(g) * g)`` (see
    :class:`HessianGradient`). The reference runs two separate forward passes
    for ``g`` and ``H g``; here both come from one forward graph (identical
    values: train-mode forward passes are deterministic). The sign follows the
    reference (which negates the GraSP paper's pruning criterion so that
    higher is better).
    """
    return float(sum(float((-w.detach() * h).sum()) for w, h in zip(weights(session), session.shared(HessianGradient))))
