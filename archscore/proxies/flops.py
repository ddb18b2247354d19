"""flops: FLOPs of one forward pass, counted by torch, a baseline of NAS-Bench-Suite-Zero (Krishnakumar et al. 2022)."""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, flop_registry

from archscore.proxies.base import register_proxy


class _FlopTotal(TorchDispatchMode):
    """Total FLOPs of the operators dispatched under it, with torch's own FLOP formulas.

    The count :class:`~torch.utils.flop_counter.FlopCounterMode` reports as its
    global total (``get_total_flops``): every operator that has a formula in
    ``torch.utils.flop_counter.flop_registry`` (matmuls, convolutions,
    attention) adds its formula's value; an operator without one is decomposed
    (still under this mode) and its parts are counted. What it leaves out is
    FlopCounterMode's per-module breakdown, whose module tracker and dynamo-guarded
    dispatch import ``torch._dynamo`` on first use: several seconds once per
    process, longer than the whole count on most models.
    """

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False  # nothing here is compiled: no dynamo guard, so no torch._dynamo import

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        packet = func._overloadpacket
        if packet not in flop_registry and func is not torch.ops.prim.device.default:
            with self:
                out = func.decompose(*args, **kwargs)
            if out is not NotImplemented:
                return out
        out = func(*args, **kwargs)
        if packet in flop_registry:
            self.total += int(flop_registry[packet](*args, **kwargs, out_val=out))
        return out


def count_flops(fn, *args) -> int:
    """FLOPs of ``fn(*args)`` as counted by torch's FLOP formulas (the total of FlopCounterMode).

    Uses :class:`_FlopTotal`; falls back to
    :class:`~torch.utils.flop_counter.FlopCounterMode` when the lean counter
    cannot run the call (e.g. a higher-order operator such as ``torch.cond``).
    """
    try:
        counter = _FlopTotal()
        with counter:
            fn(*args)
        return counter.total
    except Exception:  # noqa: BLE001 - any failure of the lean counter: count with torch's full counter instead
        full = FlopCounterMode(display=False)
        with full:
            fn(*args)
        return int(full.get_total_flops())


@register_proxy(
    "flops", higher_is_better=True, needs_labels=False, needs_data=False, removes_bn=False,
    description="floating-point operations of one forward pass per input sample, counted with torch.utils.flop_counter's formulas",
    citation="Krishnakumar et al., NAS-Bench-Suite-Zero: Accelerating Research on Zero Cost Proxies, NeurIPS 2022 Datasets and Benchmarks",
)
def flops(session) -> float:
    """FLOPs of a forward pass for ONE sample of the input's shape (NAS-Bench-Suite-Zero's ``flops`` baseline).

    Counted, not estimated: torch's FLOP formulas
    (``torch.utils.flop_counter``, the total :class:`~torch.utils.flop_counter.FlopCounterMode`
    reports; :func:`count_flops`) record every matrix multiplication, convolution and attention kernel
    that the forward pass dispatches (2 FLOPs per multiply-accumulate; norm
    layers, activations, pooling and additions are not counted, as in the
    usual MAC counts). Runs in eval mode without gradients on a zero input of
    shape ``(1, *inputs.shape[1:])`` in the inputs' dtype (token id 0 for
    token-id inputs). Divide by 2 for multiply-accumulates.
    """
    model = session.model
    was = model.training
    model.eval()
    x = torch.zeros((1,) + tuple(session.inputs.shape[1:]), dtype=session.inputs.dtype, device=session.device)
    try:
        with torch.no_grad():
            total = count_flops(model, x)
    finally:
        model.train(was)
    return float(total)
