"""The proxy registry: names, metadata and the functions that compute each proxy.

A proxy is a function ``fn(session) -> float`` registered with
:func:`register_proxy`. The :class:`~archscore.proxies._runner.Session` it
receives owns the working copy of the model, the batch and the shared passes;
a proxy asks it for shared quantities (``session.shared("weight_grads")``) so
that one forward/backward serves every proxy that can use it.

Every registered proxy is also the estimator ``zc:<name>``
(:class:`~archscore.proxies.estimator.ZeroCostEstimator` with ``proxy=<name>``),
so it joins the common estimator contract checks without new code.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from archscore.registry import Registry

PROXIES = Registry("proxy")

#: Shared quantities a proxy may declare in ``uses=`` (computed once per call by the session).
SHARED_RESOURCES: dict[str, str] = {
    "weight_grads": "gradient of the loss w.r.t. every conv/linear weight (one forward + backward)",
    "hvp": "Hessian-gradient product H g of the loss w.r.t. conv/linear weights (GraSP)",
    "fisher": "per-channel activation x activation-gradient statistics of conv/linear outputs",
    "jacobian": "gradient of the summed logits w.r.t. each input sample",
    "relu_kernel": "NASWOT kernel of binary ReLU codes over the batch",
    "meco": "per-module minimum eigenvalues of feature correlation matrices",
}

_REQUIRED_META = ("higher_is_better", "needs_labels", "needs_data", "removes_bn", "description", "citation")


class ProxyUndefinedError(ValueError):
    """A proxy is not defined for this model (e.g. NASWOT without ReLU, Zen-NAS without BatchNorm)."""


def register_proxy(
    name: str,
    *,
    higher_is_better: bool,
    needs_labels: bool,
    needs_data: bool,
    removes_bn: bool,
    description: str,
    citation: str,
    uses: Iterable[str] = (),
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
        Whether the proxy uses the targets (a loss).
    needs_data : bool
        Whether the proxy uses the input batch (``False`` for ``params``; Zen-NAS
        and SynFlow use only its shape).
    removes_bn : bool
        Whether BatchNorm layers are bypassed while computing it.
    description, citation : str
        One-line description and the paper it follows.
    uses : iterable of str
        Shared quantities from :data:`SHARED_RESOURCES` the proxy reads; the
        session computes all of them for all requested proxies in one pass.
    modifies_weights : bool
        The proxy changes the working copy's weights or dtype (e.g. SynFlow's
        absolute weights); the session restores them afterwards.
    """
    uses = tuple(uses)
    unknown = [u for u in uses if u not in SHARED_RESOURCES]
    if unknown:
        raise ValueError(f"proxy {name!r} declares unknown shared resource(s) {unknown}; known: {', '.join(SHARED_RESOURCES)}")

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
    """Metadata declared for proxy ``name`` (``higher_is_better``, ``needs_labels``, ...).

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
