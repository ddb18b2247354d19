"""Analytic hardware costs of a PyTorch model: parameters, MACs, peak activation memory, peak SRAM.

Nothing here is timed and no accelerator is needed: MACs come from module
shapes seen by forward hooks, memory from the sizes and lifetimes of the
tensors a forward (and backward) pass creates, traced on the ``meta`` device
(shapes only, no data, no arithmetic).

Conventions
-----------
* **MACs** count multiply-accumulates of convolutions (``Conv1d/2d/3d`` and
  their transposes) and ``Linear`` layers only, bias additions excluded: the
  usual convention of MAC counters, equal to half of the FLOPs that
  :class:`torch.utils.flop_counter.FlopCounterMode` reports for such nets.
  Normalisation, activations, pooling and element-wise additions count 0.
* **Peak memory** is the largest total size, in bytes, of the non-parameter
  tensors alive at once while the pass runs eagerly: the input, every op's
  output while something (Python or autograd) still holds it, and, in
  training mode, the gradients created by ``backward`` (parameter gradients
  included). Parameters and buffers are excluded (add :func:`count_params`
  times the element size for the weights). Views and in-place results share
  their base's storage and are counted once. Kernel workspaces and allocator
  rounding are not modelled.
* **Peak SRAM** follows MCUNet (Lin et al., NeurIPS 2020): with layers run one
  after another on a microcontroller, each layer needs its input and output
  buffers at the same time, so the SRAM needed for activations is the largest
  input + output size over the leaf modules (int8 activations by default).
"""

from __future__ import annotations

import copy
import math
import weakref
from typing import Sequence

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

_MODES = ("inference", "training")


def _check_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(input_shape)
    if len(shape) < 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise ValueError(
            f"input_shape must be the full input shape with the batch dimension first, "
            f"e.g. (1, 3, 32, 32), with positive integer sizes; got {input_shape!r}"
        )
    return shape


def _check_model(model: nn.Module) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def _meta_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` on the meta device (the caller's model is untouched)."""
    return copy.deepcopy(model).to("meta")


def count_params(model: nn.Module) -> int:
    """Number of parameter elements, each shared parameter counted once."""
    _check_model(model)
    return int(sum(p.numel() for p in model.parameters()))


def count_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass on an input of ``input_shape`` (batch included).

    Counted from the shapes forward hooks see on conv and linear modules (see
    the module docstring); the pass runs on a meta-device copy in eval mode.
    """
    _check_model(model)
    shape = _check_shape(input_shape)
    meta = _meta_copy(model).eval()
    total = [0]

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        total[0] += _module_macs(module, inputs[0], output)

    _hooked_meta_forward(meta, shape, [m for m in meta.modules() if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))], hook)
    return int(total[0])


def _module_macs(module: nn.Module, x: torch.Tensor, out: torch.Tensor) -> int:
    if isinstance(module, nn.Linear):
        return out.numel() * module.in_features
    kernel = math.prod(module.kernel_size)
    if module.transposed:  # every input element is scattered over out_channels/groups x kernel outputs
        return x.numel() * (module.out_channels // module.groups) * kernel
    return out.numel() * (module.in_channels // module.groups) * kernel


class _LiveBytes(TorchDispatchMode):
    """Tracks the bytes of live storages created by ops (parameters/buffers excluded)."""

    def __init__(self, exclude: set[int]) -> None:
        super().__init__()
        self.exclude = exclude  # ids of storages not to count (weights, already-counted input)
        self.live: dict[int, int] = {}
        self.current = 0
        self.peak = 0

    def add(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        key = id(storage)
        if key in self.exclude or key in self.live:
            return
        self.live[key] = storage.nbytes()
        self.current += self.live[key]
        self.peak = max(self.peak, self.current)
        weakref.finalize(storage, self._release, key)

    def _release(self, key: int) -> None:
        self.current -= self.live.pop(key, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in torch.utils._pytree.tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self.add(t)
        return out


def peak_memory(model: nn.Module, input_shape: Sequence[int], mode: str = "inference",
                dtype: torch.dtype = torch.float32) -> int:
    """Peak activation memory in bytes of one pass on an input of ``input_shape`` (batch included).

    Parameters
    ----------
    model : torch.nn.Module
        Any model; it is copied to the meta device, never run on data.
    input_shape : sequence of int
        Full input shape, batch dimension first.
    mode : {"inference", "training"}
        ``"inference"``: a forward pass in eval mode without autograd.
        ``"training"``: a forward pass in train mode with autograd (the tensors
        saved for backward stay alive) followed by ``backward`` of the
        output's sum; the peak covers both.
    dtype : torch.dtype, default=torch.float32
        Element type of the model and input (2-byte types halve the counts).

    Returns
    -------
    int
        Bytes; see the module docstring for what is counted.
    """
    _check_model(model)
    shape = _check_shape(input_shape)
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}, got {mode!r}")
    meta = _meta_copy(model).to(dtype)
    for p in meta.parameters():
        p.grad = None
    weights = {id(t.untyped_storage()) for t in list(meta.parameters()) + list(meta.buffers())}
    training = mode == "training"
    meta.train(training)
    x = torch.empty(shape, device="meta", dtype=dtype)
    tracker = _LiveBytes(weights)
    tracker.add(x)  # the input is alive for the whole pass
    with torch.set_grad_enabled(training), tracker:
        out = meta(x)
        if training:
            leaves = [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor) and t.requires_grad]
            if not leaves:
                raise ValueError("training mode needs a model whose output depends on its parameters")
            loss = leaves[0].sum()
            for t in leaves[1:]:
                loss = loss + t.sum()
            loss.backward()
            del loss, leaves
        del out
    return int(tracker.peak)


def peak_sram(model: nn.Module, input_shape: Sequence[int], bytes_per_element: int = 1) -> int:
    """MCUNet-style activation SRAM in bytes: the largest input + output of any leaf module.

    Models sequential layer-by-layer execution on a microcontroller, where a
    layer's input and output buffers coexist and everything else is freed;
    ``bytes_per_element=1`` is int8 activations (MCUNet's setting).
    Leaf modules that return their input unchanged (identity) need no
    output buffer of their own.
    """
    _check_model(model)
    shape = _check_shape(input_shape)
    if isinstance(bytes_per_element, bool) or not isinstance(bytes_per_element, int) or bytes_per_element < 1:
        raise ValueError(f"bytes_per_element must be a positive integer, got {bytes_per_element!r}")
    meta = _meta_copy(model).eval()
    peak = [0]

    def hook(module: nn.Module, inputs: tuple, output) -> None:
        ins = [t for t in torch.utils._pytree.tree_leaves(inputs) if isinstance(t, torch.Tensor)]
        outs = [t for t in torch.utils._pytree.tree_leaves(output) if isinstance(t, torch.Tensor)]
        in_ids = {id(t) for t in ins}
        n = sum(t.numel() for t in ins) + sum(t.numel() for t in outs if id(t) not in in_ids)
        peak[0] = max(peak[0], n * bytes_per_element)

    _hooked_meta_forward(meta, shape, [m for m in meta.modules() if not any(True for _ in m.children())], hook)
    return int(peak[0])


def _hooked_meta_forward(meta: nn.Module, shape: tuple, modules: list, hook) -> None:
    """One no-grad forward of a meta-device batch of ``shape`` with ``hook`` on ``modules``; hooks removed afterwards."""
    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        with torch.no_grad():
            meta(torch.empty(shape, device="meta"))
    finally:
        for h in handles:
            h.remove()
