"""The proxy and provider registries: names, metadata, and the two registration functions.

A *proxy* is a function ``fn(session) -> float`` registered with
:func:`register_proxy`. The session it receives (see
:mod:`archscore.proxies.engine`) owns the working copy of the model and the
batch.

A *provider* is a quantity several proxies read (the cross-entropy gradient
of the weights, the input Jacobian, NASWOT's ReLU-code kernel, ...), a small
:class:`Provider` subclass registered with :func:`register_provider` next to
the proxies that use it. A proxy declares the providers it reads in
``uses=``; the engine computes every provider requested by a
:func:`~archscore.proxies.compute` call together, on the fewest passes, and
the proxy reads the result with ``session.shared(<provider>)``.

Every registered proxy is also the estimator ``zc:<name>``
(:class:`~archscore.proxies.estimator.ZeroCostEstimator` with ``proxy=<name>``).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable

from archscore.registry import Registry

if TYPE_CHECKING:  # annotations only; torch is imported by the modules that run passes
    import torch

PROXIES = Registry("proxy")
PROVIDERS = Registry("provider")


class ProxyUndefinedError(ValueError):
    """A proxy is not defined for this model (e.g. NASWOT without ReLU, Zen-NAS without BatchNorm)."""


class Provider:
    """A shared quantity, computed once per :func:`~archscore.proxies.compute` call for all proxies that read it.

    Subclass it, set :attr:`name` and :attr:`description`, say what the
    provider needs from the shared pass with the class flags, override the
    stage methods it uses and :meth:`result`, and register the class with
    :func:`register_provider`. The engine creates one instance per call (so
    state lives on ``self``) and combines all requested providers:

    * providers that need gradients (:attr:`input_grad` or
      :attr:`loss_backward`) share ONE train-mode forward over the batch (in
      chunks after a CUDA out-of-memory error); after it, every
      :attr:`input_grad` provider's :meth:`after_forward` runs, then ONE
      backward of the mean loss w.r.t. the conv/linear weights plus the extra
      tensors returned by :meth:`loss_inputs`, handed to each
      :attr:`loss_backward` provider's :meth:`after_loss_backward`;
    * providers with neither flag only install forward hooks (:meth:`hooks`):
      they ride on that same forward when there is one and the batch is not
      split, else on one forward-only pass without gradients.

    Attributes
    ----------
    session
        The engine's session: ``model`` (working copy), ``inputs``,
        ``targets``, ``layers`` (conv/linear modules), ``n``, ``split``,
        ``chunks()``, ``forward(x, y)``, ``loss_fn``, ``device``.
    """

    #: Registry name, e.g. ``"weight_grads"``.
    name: ClassVar[str] = ""
    #: One line: what the quantity is.
    description: ClassVar[str] = ""
    #: The shared forward's input requires grad (the provider differentiates the logits w.r.t. the input).
    input_grad: ClassVar[bool] = False
    #: The provider reads the backward of the loss (needs targets).
    loss_backward: ClassVar[bool] = False
    #: The provider differentiates the loss gradient again: the shared forward runs
    #: with the math attention kernel, whose backward is differentiable.
    double_backward: ClassVar[bool] = False
    #: The provider makes its own pass in :meth:`result` (e.g. on re-initialised weights): it takes no part in
    #: the shared forward, which then does not run for it.
    own_pass: ClassVar[bool] = False

    def __init__(self, session: Any) -> None:
        self.session = session

    # ---------------------------------------------------------- stages
    def hooks(self, model: "torch.nn.Module") -> list[Any]:
        """Install forward hooks on the working copy for the shared forward; return their handles."""
        return []

    def forward_context(self) -> contextlib.AbstractContextManager:
        """A context entered around every shared forward call (e.g. a ``TorchFunctionMode`` that sees functional ops)."""
        return contextlib.nullcontext()

    def after_forward(self, chunk: Any) -> None:
        """Read the chunk's logits (``chunk.logits``, input ``chunk.x``); called for :attr:`input_grad` providers.

        ``chunk.retain_graph`` says whether a later stage still backpropagates
        through the graph (pass it to ``torch.autograd.grad``).
        """

    def loss_inputs(self, chunk: Any) -> list["torch.Tensor"]:
        """Extra tensors (e.g. captured activations) whose loss gradient the provider needs."""
        return []

    def keep_loss_graph(self) -> bool:
        """Whether the loss backward must keep its graph (``create_graph=True``) for a second derivative."""
        return False

    def after_loss_backward(self, chunk: Any, weight_grads: tuple, extra_grads: tuple) -> None:
        """Read the chunk's loss gradients: of the conv/linear weights and of :meth:`loss_inputs`' tensors.

        The loss of a chunk is the mean loss of the chunk times its share of the
        batch, so summing over chunks gives the full-batch mean-loss gradient.
        """

    def end_chunk(self, chunk: Any) -> None:
        """Drop per-chunk state (captured tensors)."""

    def after_pass(self) -> None:
        """Run any pass of its own after the shared one (hooks removed, same seeded RNG scope)."""

    def result(self) -> Any:
        """The quantity proxies read with ``session.shared(name)``; may raise :class:`ProxyUndefinedError`."""
        raise NotImplementedError(f"provider {self.name!r} must implement result()")

    @classmethod
    def needs_graph(cls) -> bool:
        """Whether the provider needs the gradient-enabled shared forward (else: forward hooks only)."""
        return bool(cls.input_grad or cls.loss_backward)


def register_provider(cls: type[Provider]) -> type[Provider]:
    """Register a :class:`Provider` subclass under its ``name`` (class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise TypeError(f"register_provider expects a Provider subclass, got {cls!r}")
    if not cls.name or not isinstance(cls.name, str):
        raise ValueError(f"provider class {cls.__name__} must set a non-empty string `name`")
    if cls.double_backward and not cls.loss_backward:
        raise ValueError(f"provider {cls.name!r}: double_backward needs loss_backward")
    if cls.own_pass and cls.needs_graph():
        raise ValueError(f"provider {cls.name!r}: own_pass excludes input_grad and loss_backward (the shared pass)")
    PROVIDERS.register(cls.name, cls, description=cls.description)
    return cls


def list_providers(pattern: str = "*") -> list[str]:
    """Names of registered providers matching the shell-style ``pattern``."""
    return PROVIDERS.list(pattern)


def provider_names(uses: Iterable[Any], proxy: str = "?") -> tuple[str, ...]:
    """Validate ``uses=`` (provider names or registered Provider classes) and return the names."""
    if isinstance(uses, (str, type)):
        uses = (uses,)
    out: list[str] = []
    for u in uses:
        if isinstance(u, type) and issubclass(u, Provider):
            if u.name not in PROVIDERS or PROVIDERS.get(u.name) is not u:
                raise ValueError(f"proxy {proxy!r} uses provider class {u.__name__}, which is not registered; "
                                 f"decorate it with @register_provider first")
            name = u.name
        elif isinstance(u, str):
            if u not in PROVIDERS:
                raise ValueError(f"proxy {proxy!r} declares unknown provider {u!r} in uses=; "
                                 f"known providers: {', '.join(PROVIDERS.list()) or '(none registered)'}")
            name = u
        else:
            raise TypeError(f"uses= takes provider names or Provider classes, got {u!r}")
        if name not in out:
            out.append(name)
    return tuple(out)


def register_proxy(
    name: str,
    *,
    higher_is_better: bool,
    needs_labels: bool,
    needs_data: bool,
    removes_bn: bool,
    description: str,
    citation: str,
    uses: Iterable[Any] = (),
    modifies_weights: bool = False,
    **extra: Any,
) -> Callable[[Callable], Callable]:
    """Register ``fn(session) -> float`` as the proxy ``name`` (decorator).

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"synflow"``.
    higher_is_better : bool
        Whether a higher raw score predicts a better network. Estimators negate
        proxies declared ``False`` so that their predictions are higher-is-better.
    needs_labels : bool
        Whether the proxy uses the targets (a loss). Must be True when a
        provider it uses reads the loss backward.
    needs_data : bool
        Whether the proxy uses the input batch (``False`` for ``params``; Zen-NAS
        and SynFlow use only its shape).
    removes_bn : bool
        Whether BatchNorm layers are bypassed while computing it.
    description, citation : str
        One-line description and the paper it follows.
    uses : iterable of str or Provider classes
        The providers the proxy reads with ``session.shared(...)`` (see
        :func:`list_providers`); unknown ones raise ``ValueError`` here.
    modifies_weights : bool
        The proxy changes the working copy's weights or dtype (e.g. SynFlow's
        absolute weights); the session restores them afterwards.
    **extra
        More metadata. The engine reads ``needs_classes=True`` (undefined
        with float targets, e.g. EPE-NAS groups samples by class) and
        ``continuous_inputs=True`` (undefined for integer token-id inputs, e.g.
        Zen-NAS's Gaussian inputs, SynFlow's all-ones input).
    """
    uses = provider_names(uses, name)
    loss_users = [u for u in uses if PROVIDERS.get(u).loss_backward]
    if loss_users and not needs_labels:
        raise ValueError(f"proxy {name!r} uses {loss_users}, which read the loss backward: declare needs_labels=True")

    def decorator(fn: Callable) -> Callable:
        PROXIES.register(
            name,
            fn,
            higher_is_better=bool(higher_is_better),
            needs_labels=bool(needs_labels),
            needs_data=bool(needs_data),
            removes_bn=bool(removes_bn),
            description=description,
            citation=citation,
            uses=uses,
            modifies_weights=bool(modifies_weights),
            **extra,
        )
        return fn

    return decorator


def list_proxies(pattern: str = "*") -> list[str]:
    """Names of registered proxies matching the shell-style ``pattern``."""
    return PROXIES.list(pattern)


def proxy_info(name: str) -> dict[str, Any]:
    """Metadata declared for proxy ``name`` (``higher_is_better``, ``needs_labels``, ``uses``, ...).

    Raises
    ------
    ValueError
        For an unknown name, listing the closest registered names.
    """
    check_proxy_names([name])
    info = PROXIES.metadata(name)
    info["name"] = name
    info["docstring"] = (PROXIES.get(name).__doc__ or "").strip()
    return info


def check_proxy_names(names: Iterable[str]) -> list[str]:
    """Validate proxy names; unknown names raise ``ValueError`` with close matches."""
    out = []
    for n in names:
        if not isinstance(n, str):
            raise TypeError(f"proxy names must be strings, got {type(n).__name__} {n!r}")
        PROXIES.entry(n)  # UnknownNameError (a ValueError) with close matches
        if n not in out:
            out.append(n)
    return out
