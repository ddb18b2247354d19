"""The engine: the one place that runs proxies (copy, seeding, shared passes, OOM retry, cleanup).

It holds no proxy's maths: each proxy lives in the file named after it
(``nwot.py``, ``grasp.py``, ...) and the quantities several proxies share are
*providers* (:class:`~archscore.proxies.base.Provider`) declared next to them
(``weight_grads.py``, ``jacobian.py``; ``grasp.py``'s ``hvp``, ``fisher.py``'s
channel products, ``nwot.py``'s ReLU-code kernel, ``meco.py``'s eigenvalues).

:func:`compute` scores one model on one batch with any set of proxies. It

* deep-copies the model once (the caller's model, tensors and RNG states are
  never touched: weights, buffers, ``training`` and ``requires_grad`` are
  identical afterwards, the caller's ``inputs`` get no ``.grad``; torch's,
  numpy's and Python's global RNG states are restored even when the model
  draws random numbers in ``forward``); a model that cannot be deep-copied
  is a clear error;
* scores the model in its own dtype (inputs are cast to it), takes integer
  token ids for a model with an embedding (input gradients w.r.t. the
  embedding output) and float targets with a custom ``loss_fn``;
* probes the copy with two samples to turn a wrong input shape, dtype or
  output into a clear error;
* seeds torch's and numpy's RNGs (inside :func:`caller_rng_preserved`)
  before the probe, before each proxy and before the shared passes, so a
  call is deterministic and independent of which other proxies run;
* treats a proxy that is undefined for the model, or evaluates to NaN or
  infinity, by ``nan_policy``: by default NaN with ONE warning listing them
  all when every proxy is computed, an error when proxies are named;
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
    """Exact copies of every parameter and buffer (values and dtypes) of a module, restored once.

    :meth:`restore` puts the copies themselves back (no second copy) and so
    empties the snapshot.
    """

    def __init__(self, model: nn.Module) -> None:
        self.params = [(m, k, p.detach().clone(), p.requires_grad) for m in model.modules() for k, p in m._parameters.items() if p is not None]
        self.buffers = [(m, k, b.detach().clone()) for m in model.modules() for k, b in m._buffers.items() if b is not None]

    def restore(self) -> None:
        with torch.no_grad():
            for m, k, v, rg in self.params:
                p = m._parameters[k]
                p.data = v
                p.grad = None
                p.requires_grad_(rg)
            for m, k, v in self.buffers:
                m._buffers[k] = v
        self.params, self.buffers = [], []


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


def check_batch(inputs: Any, targets: Any, needs_labels: bool, *, custom_loss: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Validate and convert a batch; returns detached tensors (never the caller's objects).

    Inputs are floating point (images, features) or integer token ids (for a
    model that starts with an ``nn.Embedding``). Targets are integer class
    labels of shape (N,), or, with a custom ``loss_fn``, float targets of
    shape (N, ...) (regression).
    """
    if isinstance(inputs, np.ndarray):
        inputs = torch.from_numpy(np.array(inputs))
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"inputs must be a torch.Tensor or numpy array of shape (N, ...), got {type(inputs).__name__}")
    if inputs.dtype == torch.bool or torch.is_complex(inputs):
        raise ValueError(f"inputs must be floating point (normalised images, e.g. float32 NCHW) or integer token ids, got dtype {inputs.dtype}")
    if inputs.dim() < 2:
        raise ValueError(f"inputs must have a batch dimension and at least one feature dimension, got shape {tuple(inputs.shape)}")
    n = inputs.shape[0]
    if n < 2:
        raise ValueError(f"proxies need a batch of at least 2 samples, got inputs of shape {tuple(inputs.shape)}")
    if torch.is_floating_point(inputs) and not torch.isfinite(inputs).all():
        raise ValueError("inputs contain NaN or infinite values")
    if targets is None:
        if needs_labels:
            raise ValueError("the requested proxies need targets (class labels of shape (N,)), got None")
        return inputs.detach(), None
    if isinstance(targets, np.ndarray):
        targets = torch.from_numpy(np.array(targets))
    if not isinstance(targets, torch.Tensor):
        targets = torch.as_tensor(targets)
    if torch.is_floating_point(targets):
        if not custom_loss:
            raise ValueError(f"targets must be integer class labels for the default cross-entropy loss, got dtype {targets.dtype}; "
                             f"for regression or other float targets pass a loss_fn (e.g. torch.nn.functional.mse_loss)")
        if targets.dim() < 1 or targets.shape[0] != n:
            raise ValueError(f"targets must have {n} rows to match inputs {tuple(inputs.shape)}, got {tuple(targets.shape)}")
        if not torch.isfinite(targets).all():
            raise ValueError("targets contain NaN or infinite values")
        return inputs.detach(), targets.detach()
    if targets.dim() != 1 or targets.shape[0] != n:
        raise ValueError(f"targets must have shape ({n},) to match inputs {tuple(inputs.shape)}, got {tuple(targets.shape)}")
    if targets.dtype == torch.bool or torch.is_complex(targets):
        raise ValueError(f"targets must be integer class labels, got dtype {targets.dtype}")
    if n and int(targets.min()) < 0:
        raise ValueError(f"targets must be class indices >= 0, got {int(targets.min())}")
    return inputs.detach(), targets.detach().long()


def check_seed(seed: Any) -> int:
    """``seed`` as an int; booleans, floats and strings are rejected (no silent truncation)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__} {seed!r}")
    seed = int(seed)
    if not 0 <= seed < 2 ** 63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    return seed


def model_dtype(model: nn.Module) -> torch.dtype:
    """The dtype the model computes in: that of its first floating-point parameter (or buffer), else float32."""
    for t in list(model.parameters()) + list(model.buffers()):
        if torch.is_floating_point(t):
            return t.dtype
    return torch.float32


def embedding_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag))]


def _checked_loss(loss_fn: Callable) -> Callable:
    """``loss_fn`` whose result must be a scalar tensor (a mean-reduced loss)."""

    def loss(out: torch.Tensor, y: Any) -> torch.Tensor:
        value = loss_fn(out, y)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"loss_fn must return a scalar loss (reduced over the batch, e.g. reduction='mean'), got {shape}")
        return value.reshape(())

    return loss


@contextlib.contextmanager
def caller_rng_preserved(device: torch.device):
    """Restore torch's (CPU and ``device``), numpy's and Python's global RNG states on exit."""
    import random

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        with torch.random.fork_rng(devices=_rng_devices(device)):
            yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def seed_all(seed: int) -> None:
    """Seed torch and numpy's global RNGs (inside :func:`caller_rng_preserved` only)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2 ** 32)


# ------------------------------------------------------------------ session
class Session:
    """State shared by the proxies of one :func:`compute` call.

    Attributes
    ----------
    model : nn.Module
        The working copy (train mode, every parameter requires grad).
    inputs, targets : Tensor
        The batch on the working device: inputs in the model's dtype (or int64
        token ids), targets int64 class labels or float regression targets.
    loss_fn : callable
        Mean-reduced loss ``loss_fn(logits, targets)`` (checked to be a scalar).
    dtype : torch.dtype
        The model's floating-point dtype (:func:`model_dtype`).
    token_inputs : bool
        The inputs are integer token ids: input-gradient proxies differentiate
        w.r.t. the output of the model's first ``nn.Embedding`` call instead.
    class_targets : bool
        The targets are integer class labels (False: float targets, or none).
    default_loss : bool
        The loss is the default cross-entropy (targets are then checked to be
        valid class indices for the model's outputs).
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
                 *, seed: int, loss_fn: Callable, split: int, device: torch.device, options: dict[str, dict] | None = None,
                 default_loss: bool = True) -> None:
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
        self.dtype = model_dtype(model)
        self.token_inputs = not torch.is_floating_point(inputs)
        self.class_targets = targets is not None and not torch.is_floating_point(targets)
        self.default_loss = default_loss
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
        """Logits must be (n, C) and, for the default cross-entropy, targets < C."""
        if isinstance(logits, (tuple, list)) and logits and isinstance(logits[0], torch.Tensor):
            logits = logits[0]
        if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or logits.shape[0] != n:
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ValueError(f"the model must return class logits of shape (N, C) = ({n}, C) for proxies "
                             f"(or (N, K) outputs with a loss_fn), got {shape}")
        self.num_classes = int(logits.shape[1])
        if (self.default_loss and self.class_targets and targets is not None and targets.numel()
                and int(targets.max()) >= logits.shape[1]):
            raise ValueError(f"target {int(targets.max())} is out of range for a model with {logits.shape[1]} outputs (classes 0..{logits.shape[1] - 1})")
        return logits

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        return self.check_logits(self.model(x), x.shape[0], targets)

    def undefined(self, message: str) -> None:
        raise ProxyUndefinedError(message)

    def require_layers(self, proxy: str) -> None:
        """Raise :class:`ProxyUndefinedError` when the model has no conv/linear layer for ``proxy`` to score."""
        if not self.layers:
            raise ProxyUndefinedError(f"{proxy} scores conv/linear weights and the model has none "
                                      f"({sum(p.numel() for p in self.model.parameters())} parameters in other modules)")

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
            # a provider read only by proxies that are undefined for this batch anyway is not computed
            wanted = providers_for(n for n in self.names if _static_undefined(n, self) is None)
            with caller_rng_preserved(self.device):
                seed_all(self.seed)
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
        provider is present and the inputs are floating point) and targets
        (None without labels).
    wrt : Tensor
        What input-gradient providers differentiate w.r.t.: ``x``, or for
        integer token ids the output of the model's first embedding call.
    logits : Tensor
        The model's output on ``x`` (with its autograd graph).
    scale : float
        The chunk's share of the batch, ``(stop - start) / N``: the chunk's loss
        is its mean loss times ``scale``.
    retain_graph : bool
        Whether a later stage still backpropagates through the graph.
    """

    __slots__ = ("start", "stop", "x", "y", "logits", "scale", "retain_graph", "wrt")

    def __init__(self, start: int, stop: int, x: torch.Tensor, y: torch.Tensor | None, n: int) -> None:
        self.start, self.stop, self.x, self.y = start, stop, x, y
        self.wrt: torch.Tensor = x
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
    forward-only pass; an :attr:`~Provider.own_pass` provider gets neither
    (its :meth:`~Provider.result` makes its pass). A provider's
    :class:`ProxyUndefinedError` becomes its result (raised when a proxy reads it).
    """
    graph = [p for p in providers if p.needs_graph()]
    hook_only = [p for p in providers if not p.needs_graph() and not p.own_pass]
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
    embedded: list[torch.Tensor] = []
    try:
        for p in graph + riding:
            handles += p.hooks(s.model)
        if input_users and s.token_inputs:
            handles += _embedding_capture(s.model, embedded)
        for st, en in s.chunks():
            yc = s.targets[st:en] if s.targets is not None else None
            chunk = Chunk(st, en, s.inputs[st:en].detach().clone(), yc, s.n)
            if input_users and not s.token_inputs:
                chunk.x.requires_grad_(True)
            embedded.clear()
            with twice_differentiable(double), contextlib.ExitStack() as stack:
                for p in graph + riding:
                    stack.enter_context(p.forward_context())
                chunk.logits = s.forward(chunk.x, yc)
            if input_users and s.token_inputs:
                if not embedded:
                    raise ValueError("integer (token id) inputs need an nn.Embedding that the model calls on them; none was called")
                chunk.wrt = embedded[0]
            for i, p in enumerate(input_users):
                chunk.retain_graph = bool(loss_users) or i < len(input_users) - 1
                p.after_forward(chunk)
            if loss_users:
                loss = s.loss_fn(chunk.logits, yc) * chunk.scale
                extra = [p.loss_inputs(chunk) for p in loss_users]
                create = any(p.keep_loss_graph() for p in loss_users)
                wrt = weights + [t for e in extra for t in e]
                if wrt and loss.requires_grad:
                    gs = torch.autograd.grad(loss, wrt, allow_unused=True, create_graph=create)
                else:  # nothing to differentiate (no conv/linear layer): providers see no gradient
                    gs = (None,) * len(wrt)
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
        with torch.no_grad(), contextlib.ExitStack() as stack:
            for p in hook_only:
                stack.enter_context(p.forward_context())
            s.forward(s.inputs.detach().clone(), s.targets)
    finally:
        for h in handles:
            h.remove()


def _embedding_capture(model: nn.Module, store: list[torch.Tensor]) -> list[Any]:
    """Forward hooks keeping the output of the model's first embedding call (of each forward) in ``store``."""

    def hook(mod, inp, out):
        if not store and isinstance(out, torch.Tensor) and torch.is_floating_point(out):
            store.append(out)

    return [m.register_forward_hook(hook) for m in embedding_modules(model)]


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
    nan_policy: str | None = None,
    batch_split: int = 1,
    options: dict[str, dict] | None = None,
) -> dict[str, float]:
    """Compute zero-cost proxies of ``model`` on one batch, in one call.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits of shape (N, C), or with a ``loss_fn``
        any model returning (N, K) outputs. Never modified. It is scored in
        its own floating-point dtype (float32, float64, float16, ...).
    inputs : Tensor or ndarray of shape (N, ...)
        One batch (e.g. normalised CIFAR images, float NCHW), cast to the
        model's dtype; or integer token ids for a model whose first layer is
        an ``nn.Embedding`` (input-gradient proxies then differentiate w.r.t.
        the embedding output; ``zen`` and ``synflow``, which feed synthetic
        continuous inputs, are undefined). Never modified.
    targets : Tensor or ndarray, optional
        Integer class labels of shape (N,); with a custom ``loss_fn`` also
        float targets of shape (N, ...) (regression), for which the proxies
        that need classes (``epe_nas``) are undefined. Required by label-based
        proxies.
    proxies : str or list of str, optional
        Names from :func:`list_proxies`; all registered proxies when None.
    seed : int, default=0
        Seed for torch's and numpy's RNGs (Zen-NAS's Gaussian inputs and
        re-initialisation, dropout, noise the model draws); the caller's
        global RNG states (torch, numpy, Python's ``random``) are left
        untouched.
    loss_fn : callable, optional
        ``loss_fn(outputs, targets)`` returning a scalar (mean-reduced) loss;
        cross-entropy by default.
    device : None, "auto", "cpu", "cuda" or torch.device
        Where to compute. None: the model's device. CUDA requested without a
        GPU falls back to the CPU with a warning.
    nan_policy : {None, "raise", "warn", "ignore"}, default=None
        What to do when a proxy is undefined for the model (e.g. ``nwot``
        without ReLU-family activations, ``zen`` without BatchNorm) or
        evaluates to NaN or infinity: raise a ``ValueError``, or return NaN
        with ONE warning listing every such proxy and why (``"warn"``) or
        silently (``"ignore"``). None (the default) means ``"warn"`` when
        ``proxies`` is None (all proxies: suited to arbitrary models) and
        ``"raise"`` when proxies are named (a proxy asked for by name must
        be defined).
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
    if nan_policy is None:
        nan_policy = "warn" if proxies is None else "raise"
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be None or one of {NAN_POLICIES}, got {nan_policy!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(batch_split, bool) or not isinstance(batch_split, int) or batch_split < 1:
        raise ValueError(f"batch_split must be a positive integer, got {batch_split!r}")
    seed = check_seed(seed)
    names = resolve_names(proxies)
    needs_labels = any(PROXIES.metadata(n)["needs_labels"] for n in names)
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable loss_fn(outputs, targets), got {type(loss_fn).__name__}")
    x, y = check_batch(inputs, targets, needs_labels, custom_loss=loss_fn is not None)
    dev = resolve_device(device, model)
    default_loss = loss_fn is None
    loss_fn = _checked_loss(F.cross_entropy if loss_fn is None else loss_fn)
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"options must be a dict {{proxy: {{option: value}}}}, got {type(options).__name__}")
    for key in options or {}:
        check_proxy_names([key])

    split = batch_split
    undefined: dict[str, str] = {}
    while True:
        try:
            undefined.clear()
            results = _run(model, x, y, names, seed=seed, loss_fn=loss_fn, device=dev, split=split, nan_policy=nan_policy,
                           options=options, default_loss=default_loss, undefined=undefined)
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
    if undefined and nan_policy == "warn":
        listing = "; ".join(f"{n!r}: {r}" for n, r in undefined.items())
        warnings.warn(f"{len(undefined)} prox{'y is' if len(undefined) == 1 else 'ies are'} undefined for this model and "
                      f"returned NaN: {listing}", RuntimeWarning, stacklevel=2)
    return {n: results[n] for n in names}


def _working_copy(model: nn.Module, device: torch.device) -> nn.Module:
    try:
        work = copy.deepcopy(model)
    except Exception as exc:  # noqa: BLE001 - any failure of deepcopy becomes one clear error
        raise ValueError(f"proxies run on a deep copy of the model (the caller's model is never modified), and "
                         f"copy.deepcopy fails on this {type(model).__name__}: {type(exc).__name__}: {exc}. "
                         f"Models with legacy torch.nn.utils.weight_norm can use torch.nn.utils.parametrizations.weight_norm "
                         f"instead; or pass a freshly built model") from exc
    return work.to(device)


def _static_undefined(name: str, session: Session) -> str | None:
    """Why proxy ``name`` is undefined for this batch before running it (None if it may be defined)."""
    meta = PROXIES.metadata(name)
    if meta.get("needs_classes") and session.targets is not None and not session.class_targets:
        return f"{name} groups samples by class and the targets are not integer class labels"
    if meta.get("continuous_inputs") and session.token_inputs:
        return f"{name} feeds synthetic continuous inputs, which integer token-id inputs do not admit"
    return None


def _run(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None, names: list[str], *, seed: int, loss_fn: Callable,
         device: torch.device, split: int, nan_policy: str, options: dict | None, default_loss: bool = True,
         undefined: dict[str, str] | None = None) -> dict[str, float]:
    undefined = {} if undefined is None else undefined
    with caller_rng_preserved(device):
        work = _working_copy(model, device)
        work.train()
        for p in work.parameters():
            p.requires_grad_(True)
            p.grad = None
        dtype = model_dtype(work)
        if torch.is_floating_point(x):
            xd = x.to(device=device, dtype=dtype).clone()
        else:
            if not embedding_modules(work):
                raise ValueError(f"integer inputs (dtype {x.dtype}) are read as token ids and need a model with an nn.Embedding; "
                                 f"this model has none: pass floating-point inputs")
            xd = x.to(device=device).clone()
        yd = y.to(device) if y is not None else None
        if yd is not None and torch.is_floating_point(yd):
            yd = yd.to(dtype)
        session = Session(work, xd, yd, names, seed=seed, loss_fn=loss_fn, split=split, device=device, options=options,
                          default_loss=default_loss)
        results: dict[str, float] = {}
        try:
            seed_all(seed)
            _probe(session)
            order = _order(names)
            for i, name in enumerate(order):
                meta = PROXIES.metadata(name)
                fn = PROXIES.get(name)
                reason = _static_undefined(name, session)
                if reason is not None:
                    results[name] = _undefined(name, reason, nan_policy, undefined)
                    continue
                reason = None
                with caller_rng_preserved(device):
                    seed_all(seed)
                    try:
                        # the last proxy may leave the working copy changed: it is discarded afterwards
                        if meta["modifies_weights"] and i < len(order) - 1:
                            with session.preserved():
                                value = fn(session)
                        else:
                            value = fn(session)
                    except ProxyUndefinedError as exc:
                        reason = str(exc)
                if reason is not None:  # outside the except block: no chained traceback repeating the reason
                    results[name] = _undefined(name, reason, nan_policy, undefined)
                    continue
                value = float(value)
                if math.isnan(value):
                    value = _undefined(name, "it evaluated to NaN on this model and batch", nan_policy, undefined)
                elif math.isinf(value):
                    value = _undefined(name, f"it evaluated to {value} (overflow) on this model and batch", nan_policy, undefined)
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
        raise ValueError(f"the model failed on a probe batch of 2 samples (inputs of shape {tuple(x.shape)}, per sample "
                         f"{tuple(x.shape[1:])}, dtype {x.dtype}; the model's dtype is {session.dtype}); check the input "
                         f"shape the model expects, and that every layer supports {session.dtype} on {session.device.type}: "
                         f"{exc}") from exc
    finally:
        model.train(was)
    session.check_logits(out, 2, session.targets)


def _undefined(name: str, reason: str, nan_policy: str, collected: dict[str, str] | None = None) -> float:
    msg = f"proxy {name!r} is undefined here: {reason}"
    if nan_policy == "raise":
        raise ValueError(msg + " (pass nan_policy='warn' to get NaN instead)")
    if collected is not None:
        collected[name] = reason
    return float("nan")
