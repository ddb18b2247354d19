"""The one place that runs proxies: copy, seeding, shared passes, OOM retry, cleanup.

:func:`compute` scores one model on one batch with any set of proxies. It

* deep-copies the model once (the caller's model, tensors and RNG state are
  never touched: weights, buffers, ``training`` and ``requires_grad`` are
  identical afterwards, the caller's ``inputs`` get no ``.grad``);
* seeds torch's RNGs inside :func:`torch.random.fork_rng` before each proxy,
  so a call is deterministic and independent of which other proxies run;
* runs ONE shared train-mode forward pass whose graph serves every requested
  proxy that can use it: the input-Jacobian backward (jacov, epe_nas), one
  cross-entropy backward (grad_norm, snip, plain, fisher, grasp's gradient),
  the GraSP Hessian-gradient product (double backward through the same graph)
  and forward hooks for the activation statistics (nwot, meco);
* restores the working copy after proxies that change weights (synflow, zen);
* on CUDA out-of-memory, retries the whole call with the batch split in two,
  four, ... chunks (gradients are accumulated with weights ``n_chunk / N`` so
  they equal the full-batch mean-loss gradient for models without
  batch-coupled layers; with BatchNorm in train mode each chunk uses its own
  statistics, which is what the original zero-cost code does as well);
* removes every hook it installed, even when a proxy fails.

All proxies run with the model in train mode, as the original zero-cost code
(SamsungLabs/zero-cost-nas) and NASLib do: BatchNorm uses batch statistics.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import warnings
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from archscore.proxies.base import PROXIES, ProxyUndefinedError, check_proxy_names

logger = logging.getLogger(__name__)

NAN_POLICIES = ("raise", "warn", "ignore")

#: Activation modules whose input sign gives NASWOT's binary codes.
RELU_TYPES: tuple[type, ...] = (nn.ReLU, nn.ReLU6, nn.LeakyReLU)


# ------------------------------------------------------------------ helpers
def prunable_layers(model: nn.Module) -> list[nn.Module]:
    """Conv and linear modules with a weight, in ``modules()`` order, each once.

    These are the layers the original zero-cost code scores ("per-layer scores
    summed"); weights of other modules (norm layers, embeddings, attention
    in-projections held as bare parameters) are not scored.
    """
    seen: set[int] = set()
    out = []
    for m in model.modules():
        if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)) and isinstance(getattr(m, "weight", None), torch.Tensor):
            if id(m) not in seen:
                seen.add(id(m))
                out.append(m)
    return out


def batchnorm_layers(model: nn.Module) -> list[_BatchNorm]:
    return [m for m in model.modules() if isinstance(m, _BatchNorm)]


@contextlib.contextmanager
def bypass_batchnorm(model: nn.Module):
    """Temporarily make every BatchNorm an identity (SynFlow's "BN removed")."""
    bns = batchnorm_layers(model)
    for m in bns:
        m.forward = _identity  # instance attribute shadows the class method
    try:
        yield bns
    finally:
        for m in bns:
            del m.forward


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


class _Snapshot:
    """Exact copies of every parameter and buffer (values and dtypes) of a module."""

    def __init__(self, model: nn.Module) -> None:
        self.params = [(m, k, p.detach().clone(), p.requires_grad) for m in model.modules() for k, p in m._parameters.items() if p is not None]
        self.buffers = [(m, k, b.detach().clone()) for m in model.modules() for k, b in m._buffers.items() if b is not None]

    def restore(self) -> None:
        with torch.no_grad():
            for m, k, v, rg in self.params:
                p = m._parameters[k]
                p.data = v.clone()
                p.grad = None
                p.requires_grad_(rg)
            for m, k, v in self.buffers:
                m._buffers[k] = v.clone()


def is_oom(exc: BaseException) -> bool:
    """True for a CUDA (or other accelerator) out-of-memory error."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def resolve_device(device: Any, model: nn.Module) -> torch.device:
    """``None`` -> the model's device; ``"auto"`` -> CUDA if available; CUDA without a GPU -> CPU with a warning."""
    if device is None:
        p = next(iter(model.parameters()), None)
        return p.device if p is not None else torch.device("cpu")
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be None, 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(f"device {device!r} requested but CUDA is not available; computing proxies on the CPU", RuntimeWarning, stacklevel=3)
        return torch.device("cpu")
    return dev


def _chunks(n: int, split: int) -> list[tuple[int, int]]:
    split = max(1, min(split, n))
    return [(s * n // split, (s + 1) * n // split) for s in range(split)]


def check_batch(inputs: Any, targets: Any, needs_labels: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Validate and convert a batch; returns detached tensors (never the caller's objects)."""
    if isinstance(inputs, np.ndarray):
        inputs = torch.from_numpy(np.array(inputs))
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"inputs must be a torch.Tensor or numpy array of shape (N, ...), got {type(inputs).__name__}")
    if not torch.is_floating_point(inputs):
        raise ValueError(f"inputs must be floating point (normalised images, e.g. float32 NCHW), got dtype {inputs.dtype}")
    if inputs.dim() < 2:
        raise ValueError(f"inputs must have a batch dimension and at least one feature dimension, got shape {tuple(inputs.shape)}")
    n = inputs.shape[0]
    if n < 2:
        raise ValueError(f"proxies need a batch of at least 2 samples, got inputs of shape {tuple(inputs.shape)}")
    if not torch.isfinite(inputs).all():
        raise ValueError("inputs contain NaN or infinite values")
    if targets is None:
        if needs_labels:
            raise ValueError("the requested proxies need targets (class labels of shape (N,)), got None")
        return inputs.detach(), None
    if isinstance(targets, np.ndarray):
        targets = torch.from_numpy(np.array(targets))
    if not isinstance(targets, torch.Tensor):
        targets = torch.as_tensor(targets)
    if targets.dim() != 1 or targets.shape[0] != n:
        raise ValueError(f"targets must have shape ({n},) to match inputs {tuple(inputs.shape)}, got {tuple(targets.shape)}")
    if torch.is_floating_point(targets) or targets.dtype == torch.bool:
        raise ValueError(f"targets must be integer class labels, got dtype {targets.dtype}")
    if n and int(targets.min()) < 0:
        raise ValueError(f"targets must be class indices >= 0, got {int(targets.min())}")
    return inputs.detach(), targets.detach().long()


# ------------------------------------------------------------------ session
class Session:
    """State shared by the proxies of one :func:`compute` call.

    Attributes
    ----------
    model : nn.Module
        The working copy (train mode, every parameter requires grad).
    inputs, targets : Tensor
        The batch on the working device (float32 inputs, int64 targets).
    loss_fn : callable
        Mean-reduced loss ``loss_fn(logits, targets)``.
    seed : int
        Seed set before each proxy.
    split : int
        Number of chunks the batch is processed in (1 unless CUDA ran out of memory).
    """

    def __init__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None, names: Sequence[str],
                 *, seed: int, loss_fn: Callable, split: int, device: torch.device, options: dict[str, dict] | None = None) -> None:
        self.model = model
        self.inputs = inputs
        self.targets = targets
        self.names = list(names)
        self.seed = seed
        self.loss_fn = loss_fn
        self.split = split
        self.device = device
        self.options = options or {}
        self.layers = prunable_layers(model)
        self._shared: dict[str, Any] | None = None
        self._num_classes: int | None = None

    # ------------------------------------------------------------ helpers
    def option(self, proxy: str, key: str, default: Any) -> Any:
        """A per-proxy option from ``compute(..., options={proxy: {key: value}})``."""
        return self.options.get(proxy, {}).get(key, default)

    @property
    def n(self) -> int:
        return int(self.inputs.shape[0])

    def chunks(self, n: int | None = None) -> list[tuple[int, int]]:
        return _chunks(self.n if n is None else n, self.split)

    def check_logits(self, logits: Any, n: int, targets: torch.Tensor | None) -> torch.Tensor:
        """Logits must be (n, C) and targets < C."""
        if isinstance(logits, (tuple, list)) and logits and isinstance(logits[0], torch.Tensor):
            logits = logits[0]
        if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or logits.shape[0] != n:
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ValueError(f"the model must return class logits of shape (N, C) = ({n}, C) for proxies, got {shape}")
        self._num_classes = int(logits.shape[1])
        if targets is not None and targets.numel() and int(targets.max()) >= logits.shape[1]:
            raise ValueError(f"target {int(targets.max())} is out of range for a model with {logits.shape[1]} outputs (classes 0..{logits.shape[1] - 1})")
        return logits

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        return self.check_logits(self.model(x), x.shape[0], targets)

    def undefined(self, message: str) -> None:
        raise ProxyUndefinedError(message)

    @contextlib.contextmanager
    def preserved(self):
        """Restore the working copy's weights, buffers and dtypes on exit."""
        snap = _Snapshot(self.model)
        was_training = self.model.training
        try:
            yield self.model
        finally:
            snap.restore()
            self.model.train(was_training)

    # -------------------------------------------------------- shared pass
    def shared(self, key: str) -> Any:
        """A shared quantity, computed (for all requested proxies at once) on first use."""
        if self._shared is None:
            needed: set[str] = set()
            for name in self.names:
                needed.update(PROXIES.metadata(name)["uses"])
            with torch.random.fork_rng(devices=_rng_devices(self.device)):
                torch.manual_seed(self.seed)
                self._shared = _shared_pass(self, needed)
        value = self._shared.get(key)
        if isinstance(value, ProxyUndefinedError):
            raise value
        return value


def _rng_devices(device: torch.device) -> list:
    return [device] if device.type == "cuda" else []


# ------------------------------------------------------------- shared pass
def _shared_pass(s: Session, needed: set[str]) -> dict[str, Any]:
    """One train-mode forward over the batch, then every backward the requested proxies need."""
    model, layers = s.model, s.layers
    weights = [m.weight for m in layers]
    want_hvp = "hvp" in needed
    want_fisher = "fisher" in needed
    want_ce = want_hvp or want_fisher or "weight_grads" in needed
    want_jac = "jacobian" in needed
    want_act = bool(needed & {"relu_kernel", "meco"})
    grad_pass = want_ce or want_jac
    act_in_main = want_act and grad_pass and s.split == 1
    n = s.n
    out: dict[str, Any] = {}
    if want_ce and s.targets is None:
        raise ValueError("gradient proxies need targets, got None")

    grads = [torch.zeros_like(w) for w in weights] if want_ce else None
    hvp = [torch.zeros_like(w) for w in weights] if want_hvp else None
    fisher_rows: dict[tuple[int, int], list[torch.Tensor]] = {}
    jac_parts: list[torch.Tensor] = []
    captured: list[tuple[int, int, torch.Tensor]] = []  # (layer index, call index, output)
    act_stats = _ActivationStats(model, needed) if want_act else None
    handles: list[Any] = []
    calls: dict[int, int] = {}  # per-chunk call counter of each layer (weight sharing)
    try:
        if want_fisher:

            def capture(idx: int):
                def hook(mod, inp, output):
                    if isinstance(output, torch.Tensor) and output.requires_grad:
                        c = calls.get(idx, 0)
                        calls[idx] = c + 1
                        captured.append((idx, c, output))
                return hook

            handles += [m.register_forward_hook(capture(i)) for i, m in enumerate(layers)]
        if act_in_main:
            handles += act_stats.install()

        if grad_pass:
            for st, en in s.chunks():
                calls.clear()
                captured.clear()
                xc = s.inputs[st:en].detach().clone()
                yc = s.targets[st:en] if s.targets is not None else None
                if want_jac:
                    xc.requires_grad_(True)
                logits = s.forward(xc, yc)
                if want_jac:
                    (jc,) = torch.autograd.grad(logits.sum(), xc, retain_graph=want_ce)
                    jac_parts.append(jc.detach().reshape(en - st, -1))
                if want_ce:
                    loss = s.loss_fn(logits, yc) * ((en - st) / n)
                    acts = [a for _, _, a in captured]
                    create = want_hvp and s.split == 1
                    gs = torch.autograd.grad(loss, weights + acts, allow_unused=True, create_graph=create)
                    gw, ga = gs[: len(weights)], gs[len(weights):]
                    for i, g in enumerate(gw):
                        if g is not None:
                            grads[i] += g.detach()
                    for (li, ci, a), g in zip(captured, ga):
                        fisher_rows.setdefault((li, ci), []).append(_channel_products(layers[li], a.detach(), g))
                    if create:
                        z = sum((g.detach() * g).sum() for g in gw if g is not None)
                        if isinstance(z, torch.Tensor) and z.requires_grad:
                            hv = torch.autograd.grad(z, weights, allow_unused=True)
                            for i, h in enumerate(hv):
                                if h is not None:
                                    hvp[i] += h.detach()
                    del gs, gw, ga, loss
                captured.clear()
                del logits
            if want_hvp and s.split > 1:
                # GraSP in two passes, as in the original code: H g with the full-batch g fixed.
                for st, en in s.chunks():
                    xc = s.inputs[st:en].detach().clone()
                    yc = s.targets[st:en]
                    loss = s.loss_fn(s.forward(xc, yc), yc) * ((en - st) / n)
                    gf = torch.autograd.grad(loss, weights, allow_unused=True, create_graph=True)
                    z = sum((g0 * g).sum() for g0, g in zip(grads, gf) if g is not None)
                    if isinstance(z, torch.Tensor) and z.requires_grad:
                        for i, h in enumerate(torch.autograd.grad(z, weights, allow_unused=True)):
                            if h is not None:
                                hvp[i] += h.detach()
        for h in handles:
            h.remove()
        handles = []
        if want_act and not act_in_main:
            # forward-only pass for the activation statistics (no graph kept)
            handles += act_stats.install()
            with torch.no_grad():
                s.forward(s.inputs.detach().clone(), s.targets)
    finally:
        for h in handles:
            h.remove()
        captured.clear()

    if want_ce:
        out["weight_grads"] = grads
    if want_hvp:
        out["hvp"] = hvp
    if want_fisher:
        per_layer = [torch.zeros(_out_channels(m), device=s.device) for m in layers]
        for (li, _), rows in fisher_rows.items():
            g_nk = torch.cat(rows, 0)
            per_layer[li] = per_layer[li] + 0.5 * g_nk.pow(2).mean(0)
        out["fisher"] = per_layer
    if want_jac:
        out["jacobian"] = torch.cat(jac_parts, 0)
    if want_act:
        out.update(act_stats.results())
    return out


def _out_channels(m: nn.Module) -> int:
    return int(m.weight.shape[1] if isinstance(m, nn.modules.conv._ConvTransposeNd) else m.weight.shape[0])


def _channel_products(layer: nn.Module, act: torch.Tensor, grad: torch.Tensor | None) -> torch.Tensor:
    """Fisher's per-sample, per-channel sum of activation x gradient (``g_nk``)."""
    if grad is None:
        grad = torch.zeros_like(act)
    prod = act * grad.detach()
    if isinstance(layer, nn.Linear):
        # channels are the last dim; sum over any token dims in between
        return prod.reshape(prod.shape[0], -1, prod.shape[-1]).sum(1)
    return prod.reshape(prod.shape[0], prod.shape[1], -1).sum(2)


class _ActivationStats:
    """Forward hooks for NASWOT's ReLU-code kernel and MeCo's correlation eigenvalues."""

    def __init__(self, model: nn.Module, needed: set[str]) -> None:
        self.model = model
        self.want_nwot = "relu_kernel" in needed
        self.want_meco = "meco" in needed
        self.K: torch.Tensor | None = None
        self.n_relu = 0
        self.meco: list[float] = []

    def install(self) -> list[Any]:
        handles = []
        self.K, self.n_relu, self.meco = None, 0, []
        if self.want_nwot:
            handles += [m.register_forward_hook(self._relu_hook) for m in self.model.modules() if isinstance(m, RELU_TYPES)]
        if self.want_meco:
            handles += [m.register_forward_hook(self._meco_hook) for m in self.model.modules()]
        return handles

    def _relu_hook(self, mod, inp, output) -> None:
        x = inp[0].detach() if inp else None
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            return
        c = (x.reshape(x.shape[0], -1) > 0).to(torch.float32)
        d = c.shape[1]
        rows = c.sum(1)
        # agreements = c c^T + (1-c)(1-c)^T = d - r_i - r_j + 2 c c^T (exact integers in float32 for d < 2^24)
        k = (2.0 * (c @ c.t()) - rows[:, None] - rows[None, :] + d).to(torch.float64)
        self.K = k if self.K is None else self.K + k
        self.n_relu += 1

    def _meco_hook(self, mod, inp, output) -> None:
        t = output
        if isinstance(t, (tuple, list)):
            t = t[0] if t and isinstance(t[0], torch.Tensor) else None
        if not isinstance(t, torch.Tensor) or t.dim() < 2 or not torch.is_floating_point(t):
            return
        fea = t[0].detach().reshape(t.shape[1], -1).to(torch.float64)
        if fea.shape[1] < 2 or fea.shape[0] < 1:
            self.meco.append(0.0)  # correlation undefined -> zeroed, as the reference's nan -> 0
            return
        corr = torch.corrcoef(fea)
        corr = torch.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)
        v = float(torch.linalg.eigvalsh(corr).min())
        if math.isfinite(v):
            self.meco.append(v)

    def results(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.want_nwot:
            out["relu_kernel"] = (
                self.K if self.K is not None
                else ProxyUndefinedError("nwot needs ReLU modules (nn.ReLU/ReLU6/LeakyReLU) to read binary activation codes; the model has none")
            )
        if self.want_meco:
            out["meco"] = list(self.meco)
        return out


# ------------------------------------------------------------------ compute
def _resolve_names(proxies: str | Iterable[str] | None) -> list[str]:
    if proxies is None:
        return PROXIES.list()
    if isinstance(proxies, str):
        proxies = [proxies]
    names = check_proxy_names(list(proxies))
    if not names:
        raise ValueError("proxies must name at least one proxy (or be None for all)")
    return names


def _order(names: list[str]) -> list[str]:
    # proxies that leave the weights alone first (they share the pass); weight-changing ones last
    return sorted(names, key=lambda n: PROXIES.metadata(n)["modifies_weights"])


def compute(
    model: nn.Module,
    inputs: Any,
    targets: Any = None,
    proxies: str | Iterable[str] | None = None,
    *,
    seed: int = 0,
    loss_fn: Callable | None = None,
    device: Any = None,
    nan_policy: str = "raise",
    batch_split: int = 1,
    options: dict[str, dict] | None = None,
) -> dict[str, float]:
    """Compute zero-cost proxies of ``model`` on one batch, in one call.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits of shape (N, C). Never modified.
    inputs : Tensor or ndarray of shape (N, ...)
        One batch (e.g. normalised CIFAR images, float NCHW). Never modified.
    targets : Tensor or ndarray of shape (N,), optional
        Integer class labels; required by label-based proxies.
    proxies : str or list of str, optional
        Names from :func:`list_proxies`; all registered proxies when None.
    seed : int, default=0
        Seed for torch's RNGs (Zen-NAS's Gaussian inputs and re-initialisation,
        dropout); the caller's global RNG state is left untouched.
    loss_fn : callable, optional
        Mean-reduced ``loss_fn(logits, targets)``; cross-entropy by default.
    device : None, "auto", "cpu", "cuda" or torch.device
        Where to compute. None: the model's device. CUDA requested without a
        GPU falls back to the CPU with a warning.
    nan_policy : {"raise", "warn", "ignore"}
        What to do when a proxy is undefined for the model (e.g. ``nwot``
        without ReLU, ``zen`` without BatchNorm) or returns NaN: raise a
        ``ValueError``, or return NaN with (``"warn"``) or without a warning.
    batch_split : int, default=1
        Process the batch in this many chunks from the start (it doubles
        automatically on CUDA out-of-memory).
    options : dict, optional
        Per-proxy options, e.g. ``{"zico": {"n_splits": 2}}``.

    Returns
    -------
    dict
        ``{proxy: float}`` in the order requested. Scores are raw (not
        negated); see :func:`proxy_info` for each proxy's orientation.
    """
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(batch_split, bool) or not isinstance(batch_split, int) or batch_split < 1:
        raise ValueError(f"batch_split must be a positive integer, got {batch_split!r}")
    names = _resolve_names(proxies)
    needs_labels = any(PROXIES.metadata(n)["needs_labels"] for n in names)
    x, y = check_batch(inputs, targets, needs_labels)
    dev = resolve_device(device, model)
    loss_fn = F.cross_entropy if loss_fn is None else loss_fn
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"options must be a dict {{proxy: {{option: value}}}}, got {type(options).__name__}")
    for key in options or {}:
        check_proxy_names([key])

    split = batch_split
    while True:
        try:
            results = _run(model, x, y, names, seed=seed, loss_fn=loss_fn, device=dev, split=split, nan_policy=nan_policy, options=options)
            break
        except Exception as exc:  # noqa: BLE001 - only OOM is retried, everything else re-raised
            if not is_oom(exc):
                raise
            if split * 2 > x.shape[0]:
                raise RuntimeError(f"out of memory even with the batch split into {split} chunks of ~{x.shape[0] // split} samples") from exc
            split *= 2
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            logger.warning("out of memory computing proxies; retrying with the batch split into %d chunks", split)
    return {n: results[n] for n in names}


def _run(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None, names: list[str], *, seed: int, loss_fn: Callable,
         device: torch.device, split: int, nan_policy: str, options: dict | None) -> dict[str, float]:
    work = copy.deepcopy(model).to(device)
    work.train()
    for p in work.parameters():
        p.requires_grad_(True)
        p.grad = None
    xd = x.to(device=device, dtype=torch.float32).clone()
    yd = y.to(device) if y is not None else None
    session = Session(work, xd, yd, names, seed=seed, loss_fn=loss_fn, split=split, device=device, options=options)
    results: dict[str, float] = {}
    try:
        for name in _order(names):
            meta = PROXIES.metadata(name)
            fn = PROXIES.get(name)
            with torch.random.fork_rng(devices=_rng_devices(device)):
                torch.manual_seed(seed)
                try:
                    if meta["modifies_weights"]:
                        with session.preserved():
                            value = fn(session)
                    else:
                        value = fn(session)
                except ProxyUndefinedError as exc:
                    results[name] = _undefined(name, str(exc), nan_policy)
                    continue
            value = float(value)
            if math.isnan(value):
                value = _undefined(name, "it evaluated to NaN on this model and batch", nan_policy)
            results[name] = value
    finally:
        session._shared = None
        for p in work.parameters():
            p.grad = None
        del work, session
    return results


def _undefined(name: str, reason: str, nan_policy: str) -> float:
    msg = f"proxy {name!r} is undefined here: {reason}"
    if nan_policy == "raise":
        raise ValueError(msg + " (pass nan_policy='warn' to get NaN instead)")
    if nan_policy == "warn":
        warnings.warn(msg + "; returning NaN", RuntimeWarning, stacklevel=4)
    return float("nan")
