"""Zero-cost proxies: score an untrained ``torch.nn.Module`` from one minibatch.

::

    from archscore import proxies
    proxies.list_proxies()                      # ['epe_nas', 'fisher', 'flops', ...]
    proxies.proxy_info("synflow")               # metadata: higher_is_better, needs_labels, ...
    scores = proxies.compute(model, x, y)       # all proxies, one call, shared passes
    df = proxies.score_archs(archs, x, y, space="nb201", seed=42)

Every proxy is also an estimator, ``create_estimator("zc:<proxy>")``.
"""

from archscore.proxies.base import PROXIES, SHARED_RESOURCES, ProxyUndefinedError, list_proxies, proxy_info, register_proxy
from archscore.proxies._runner import NAN_POLICIES, compute, prunable_layers
from archscore.proxies.estimator import ZeroCostEstimator, score_archs
from archscore.proxies.reference import ReferenceNB201Space

# Importing the families registers the proxies (and their zc:<name> estimators).
from archscore.proxies import counting, gradient, jacobian, activation, synflow, zico  # noqa: E402,F401

__all__ = [
    "PROXIES",
    "SHARED_RESOURCES",
    "NAN_POLICIES",
    "ProxyUndefinedError",
    "ReferenceNB201Space",
    "ZeroCostEstimator",
    "compute",
    "list_proxies",
    "proxy_info",
    "prunable_layers",
    "register_proxy",
    "score_archs",
]
