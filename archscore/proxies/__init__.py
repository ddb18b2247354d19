"""Zero-cost proxies: score an untrained ``torch.nn.Module`` from one minibatch.

::

    from archscore import proxies
    proxies.list_proxies()                      # ['epe_nas', 'fisher', 'flops', ...]
    proxies.proxy_info("synflow")               # metadata: higher_is_better, needs_labels, uses, ...
    scores = proxies.compute(model, x, y)       # all proxies, one call, shared passes; undefined -> NaN + one warning
    proxies.compute(model, x, y, ["nwot"])      # named proxies raise where undefined (unless nan_policy=...)
    df = proxies.score_archs(archs, x, y, space="nb201", seed=42)

Each proxy's algorithm is in the module named after it (``proxies/nwot.py``,
``proxies/grasp.py``, ...); quantities several proxies read are providers
(:class:`Provider`) declared next to them and combined by the engine
(``proxies/engine.py``) into the fewest passes. Every proxy is also an
estimator, ``create_estimator("zc:<proxy>")``.
"""

from archscore.proxies.base import (
    PROVIDERS,
    PROXIES,
    Provider,
    ProxyUndefinedError,
    list_providers,
    list_proxies,
    proxy_info,
    register_provider,
    register_proxy,
)
from archscore.proxies.engine import NAN_POLICIES, compute, prunable_layers
from archscore.proxies.estimator import ZeroCostEstimator, score_archs
from archscore.proxies.reference import ReferenceNB201Space

# Importing the proxy modules registers the proxies and their providers.
from archscore.proxies import (  # noqa: E402,F401
    az_expressivity, az_nas, az_progressivity, az_trainability, epe_nas, fisher, flops, grad_norm, grasp, jacobian, jacov,
    l2_norm, meco, nwot, params, plain, snip, synflow, weight_grads, zen, zico,
)

__all__ = [
    "PROVIDERS",
    "PROXIES",
    "NAN_POLICIES",
    "Provider",
    "ProxyUndefinedError",
    "ReferenceNB201Space",
    "ZeroCostEstimator",
    "compute",
    "list_providers",
    "list_proxies",
    "proxy_info",
    "prunable_layers",
    "register_provider",
    "register_proxy",
    "score_archs",
]
