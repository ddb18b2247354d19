"""EPE-NAS (Lopes et al., ICANN 2021): per-class correlation of input Jacobians."""

from __future__ import annotations

import numpy as np

from archscore.proxies.base import register_proxy
from archscore.proxies.jacobian import EPS, InputJacobian, correlation_matrix


def epe_score(j: np.ndarray, labels: np.ndarray, n_classes: int, eps: float = EPS) -> float:
    """EPE-NAS score from per-sample Jacobians ``j`` and their ``labels``."""
    per_class = {}
    for c in np.unique(labels):
        rows = j[labels == c]
        corr = correlation_matrix(rows) if rows.shape[0] > 1 else np.ones((1, 1))
        per_class[c] = float(np.sum(np.log(np.abs(corr) + eps)))
    vals = np.array(list(per_class.values()))
    if n_classes <= 100:
        return float(np.sum(np.abs(vals)))
    return float(np.abs(vals[:, None] - vals[None, :]).sum() / max(len(vals), 1))


@register_proxy(
    "epe_nas", higher_is_better=True, needs_labels=True, needs_data=True, removes_bn=False, uses=(InputJacobian,), needs_classes=True,
    description="EPE-NAS: per-class Jacobian correlation score",
    citation="Lopes et al., EPE-NAS: Efficient Performance Estimation Without Training for NAS, ICANN 2021",
)
def epe_nas(session) -> float:
    """EPE-NAS (Lopes et al. 2021), as implemented in NAS-Bench-Suite-Zero (NASLib).

    For each class ``c`` present in the batch, ``s_c = sum log(|Σ_c| + 1e-5)``
    over the correlation matrix ``Σ_c`` of that class's per-sample input
    gradients (provider :class:`~archscore.proxies.jacobian.InputJacobian`);
    the score is ``sum_c |s_c|`` (for more than 100 classes,
    ``sum_{c,c'} |s_c - s_c'| / #classes``). Labels only group the samples.
    Deviation: zero-variance rows get correlation 1 (the reference gives NaN).
    Undefined for float (regression) targets: there are no classes to group by.
    """
    j = session.shared(InputJacobian).cpu().numpy()
    labels = session.targets.cpu().numpy()
    n_classes = session.num_classes or int(labels.max()) + 1
    return epe_score(j, labels, n_classes)
