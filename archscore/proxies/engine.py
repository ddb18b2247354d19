"""The engine: the one place that runs proxies (copy, seeding, shared passes, OOM retry, cleanup).

It holds no proxy's maths: each proxy lives in the file named after it
(``nwot.py``, ``grasp.py``, ...) and the quantities several proxies share are
*providers* (:class:`~archscore.proxies.base.Provider`) declared next to them
(``weight_grads.py``, ``jacobian.py``; ``grasp.py``'s ``hvp``, ``fisher.py``'s
channel products, ``nwot.py``'s ReLU-code kernel, ``meco.py``'s eigenvalues).

:func:`compute` scores one model on one batch with any set of proxies. It

* deep-copies the model once (the caller's model, tensors and RNG state are
  never touched: weights, buffers, ``training`` and ``requires_grad`` are
  identical afterwards, the caller's ``inputs`` get no ``.grad``);
* probes the copy with two samples to turn a wrong input shape or output into
  a clear error;
* seeds torch's RNGs inside :func:`torch.random.fork_rng` before each proxy
  and before the shared passes, so a call is deterministic and independent of
  which other proxies run;
* combines the providers of all requested proxies into the fewest passes:
  ONE train-mode forward whose graph serves every gradient provider (an
  input-gradient stage, then ONE loss backward w.r.t. the conv/linear weights
  and the tensors providers ask for, kept differentiable when one needs a
  second derivative), with the hook-only providers' forward hooks on that same
  forward, or one forward-only pass when no gradient is needed or the batch is
  split (:func:`run_providers`);
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

from archscore.proxies.base import PROVIDERS, PROXIES, Provider, ProxyUndefinedError, check_proxy_names

logger = logging.getLogger(__name__)

NAN_POLICIES = ("raise", "warn", "ignore")

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
    layers : list of nn.Module
        The conv/linear layers proxies score (:func:`prunable_layers`).
    num_classes : int or None
        Width of the model's logits, known after the probe.

    A proxy reads providers with :meth:`shared`; the first read computes every
    provider the requested proxies declared, together.
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
        self.num_classes: int | None = None

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
        self.num_classes = int(logits.shape[1])
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

    # ------------------------------------------------------ providers
    def shared(self, provider: str | type[Provider]) -> Any:
        """The result of a provider (name or class), computed for all requested proxies at once on first use.

        Raises
        ------
        ProxyUndefinedError
            When the provider is undefined for this model.
        ValueError
            When no requested proxy declared the provider in ``uses=``.
        """
        key = provider.name if isinstance(provider, type) and issubclass(provider, Provider) else provider
        if self._shared is None:
            wanted = providers_for(self.names)
            with torch.random.fork_rng(devices=_rng_devices(self.device)):
                torch.manual_seed(self.seed)
                self._shared = run_providers(self, [PROVIDERS.get(u)(self) for u in wanted])
        if key not in self._shared:
            raise ValueError(f"provider {key!r} was not computed: declare it in the proxy's uses= "
                             f"(requested providers: {', '.join(self._shared) or 'none'})")
        value = self._shared[key]
        if isinstance(value, ProxyUndefinedError):
            raise value
        return value


def _rng_devices(device: torch.device) -> list:
    return [device] if device.type == "cuda" else []


# ----------------------------------------------------------- shared passes
class Chunk:
    """One slice ``[start, stop)`` of the batch on the shared forward, as the providers see it.

    Attributes
    ----------
    x, y : Tensor
        The chunk's inputs (a fresh copy; requires grad when an ``input_grad``
        provider is present) and targets (None without labels).
    logits : Tensor
        The model's output on ``x`` (with its autograd graph).
    scale : float
        The chunk's share of the batch, ``(stop - start) / N``: the chunk's loss
        is its mean loss times ``scale``.
    retain_graph : bool
        Whether a later stage still backpropagates through the graph.
    """

    __slots__ = ("start", "stop", "x", "y", "logits", "scale", "retain_graph")

    def __init__(self, start: int, stop: int, x: torch.Tensor, y: torch.Tensor | None, n: int) -> None:
        self.start, self.stop, self.x, self.y = start, stop, x, y
        self.scale = (stop - start) / n
        self.logits: torch.Tensor | None = None
        self.retain_graph = False


def providers_for(names: Iterable[str]) -> list[str]:
    """Names of the providers the proxies ``names`` declare, in first-use order."""
    out: list[str] = []
    for name in names:
        for u in PROXIES.metadata(name)["uses"]:
            if u not in out:
                out.append(u)
    return out


def run_providers(s: Session, providers: list[Provider]) -> dict[str, Any]:
    """Compute ``providers`` on the fewest passes and return ``{name: result}``.

    Gradient providers share one train-mode forward per chunk; hook-only
    providers ride on it when the batch is not split, else get one
    forward-only pass. A provider's :class:`ProxyUndefinedError` becomes its
    result (raised when a proxy reads it).
    """
    graph = [p for p in providers if p.needs_graph()]
    hook_only = [p for p in providers if not p.needs_graph()]
    riding = hook_only if graph and s.split == 1 else []
    if graph:
        _graph_pass(s, graph, riding)
    if hook_only and not riding:
        _forward_pass(s, hook_only)
    out: dict[str, Any] = {}
    for p in providers:
        try:
            out[p.name] = p.result()
        except ProxyUndefinedError as exc:
            out[p.name] = exc
    return out


def _graph_pass(s: Session, graph: list[Provider], riding: list[Provider]) -> None:
    """ONE train-mode forward per chunk, then the input-gradient stage, then ONE loss backward."""
    weights = [m.weight for m in s.layers]
    input_users = [p for p in graph if p.input_grad]
    loss_users = [p for p in graph if p.loss_backward]
    if loss_users and s.targets is None:
        raise ValueError("gradient proxies need targets, got None")
    double = any(p.double_backward for p in graph)
    handles: list[Any] = []
    try:
        for p in graph + riding:
            handles += p.hooks(s.model)
        for st, en in s.chunks():
            yc = s.targets[st:en] if s.targets is not None else None
            chunk = Chunk(st, en, s.inputs[st:en].detach().clone(), yc, s.n)
            if input_users:
                chunk.x.requires_grad_(True)
            with twice_differentiable(double):
                chunk.logits = s.forward(chunk.x, yc)
            for i, p in enumerate(input_users):
                chunk.retain_graph = bool(loss_users) or i < len(input_users) - 1
                p.after_forward(chunk)
            if loss_users:
                loss = s.loss_fn(chunk.logits, yc) * chunk.scale
                extra = [p.loss_inputs(chunk) for p in loss_users]
                create = any(p.keep_loss_graph() for p in loss_users)
                gs = torch.autograd.grad(loss, weights + [t for e in extra for t in e], allow_unused=True, create_graph=create)
                gw, k = gs[: len(weights)], len(weights)
                for p, e in zip(loss_users, extra):
                    p.after_loss_backward(chunk, gw, gs[k: k + len(e)])
                    k += len(e)
                del gs, gw, loss
            for p in graph:
                p.end_chunk(chunk)
            chunk.logits = None
    finally:
        for h in handles:
            h.remove()
    for p in graph:
        p.after_pass()


def _forward_pass(s: Session, hook_only: list[Provider]) -> None:
    """One forward over the whole batch without gradients, for providers that only read forward hooks."""
    handles: list[Any] = []
    try:
        for p in hook_only:
            handles += p.hooks(s.model)
        with torch.no_grad():
            s.forward(s.inputs.detach().clone(), s.targets)
    finally:
        for h in handles:
            h.remove()


def twice_differentiable(enabled: bool = True):
    """Force the math attention kernel, whose backward is differentiable (a double backward through attention)."""
    if not enabled:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(SDPBackend.MATH)


# ------------------------------------------------------------------ compute
def resolve_names(proxies: str | Iterable[str] | None) -> list[str]:
    """Validated proxy names: all registered ones for None, one for a string."""
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
    names = resolve_names(proxies)
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
        _probe(session)
        order = _order(names)
        for i, name in enumerate(order):
            meta = PROXIES.metadata(name)
            fn = PROXIES.get(name)
            with torch.random.fork_rng(devices=_rng_devices(device)):
                torch.manual_seed(seed)
                try:
                    # the last proxy may leave the working copy changed: it is discarded afterwards
                    if meta["modifies_weights"] and i < len(order) - 1:
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


def _probe(session: Session) -> None:
    """Run two samples through the working copy (eval mode, no grad) to turn bad inputs into clear errors early."""
    model, x = session.model, session.inputs
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x[:2])
    except RuntimeError as exc:
        if is_oom(exc):
            raise
        raise ValueError(f"the model cannot run on inputs of shape {tuple(x.shape)} (per sample {tuple(x.shape[1:])}); "
                         f"check the input shape it expects: {exc}") from exc
    finally:
        model.train(was)
    session.check_logits(out, 2, session.targets)


def _undefined(name: str, reason: str, nan_policy: str) -> float:
    msg = f"proxy {name!r} is undefined here: {reason}"
    if nan_policy == "raise":
        raise ValueError(msg + " (pass nan_policy='warn' to get NaN instead)")
    if nan_policy == "warn":
        warnings.warn(msg + "; returning NaN", RuntimeWarning, stacklevel=4)
    return float("nan")
