"""Input-Jacobian proxies: jacov (Mellor et al. 2020, v1) and EPE-NAS (Lopes et al. 2021).

Both read the shared Jacobian: for each sample ``n``, ``J_n = d(sum_c y_nc)/dx_n``
(the gradient of the summed logits w.r.t. the input, as in the reference code:
``y.backward(ones_like(y))``), computed from the shared train-mode forward pass
with one input-only backward.

Samples whose Jacobian is constant (zero variance: the network ignores its
input, e.g. a disconnected NAS-Bench-201 cell) have undefined correlations,
and the reference returns NaN. Here such a sample is treated as perfectly
correlated with every other one (correlation 1), the least informative case,
so such networks score finitely and at the bottom of both proxies.
"""

from __future__ import annotations

import numpy as np

from archscore.proxies.base import register_proxy

#: Regulariser of the eigenvalues / correlations, as in the reference code.
EPS = 1e-5


def correlation_matrix(j: np.ndarray) -> np.ndarray:
    """Row correlation matrix; rows with zero variance correlate 1 with everything."""
    j = np.asarray(j, dtype=np.float64)
    j = j - j.mean(axis=1, keepdims=True)
    norm = np.sqrt((j * j).sum(axis=1))
    ok = norm > 0
    z = np.zeros_like(j)
    z[ok] = j[ok] / norm[ok, None]
    c = z @ z.T
    c[~ok, :] = 1.0
    c[:, ~ok] = 1.0
    np.fill_diagonal(c, 1.0)
    return np.clip(c, -1.0, 1.0)


def jacov_score(j: np.ndarray, eps: float = EPS) -> float:
    """``-sum_i [log(λ_i + eps) + 1/(λ_i + eps)]`` over the eigenvalues of the correlation of ``j``'s rows."""
    v = np.linalg.eigvalsh(correlation_matrix(j))
    v = np.clip(v, 0.0, None)  # round-off can make a zero eigenvalue slightly negative
    return float(-np.sum(np.log(v + eps) + 1.0 / (v + eps)))


@register_proxy(
    "jacov", higher_is_better=True, needs_labels=False, needs_data=True, removes_bn=False, uses=("jacobian",),
    description="Jacobian covariance: eigenvalue score of the correlation of per-sample input gradients",
    citation="Mellor et al., Neural Architecture Search without Training, arXiv:2006.04647v1, 2020; " +
             "Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021",
)
def jacov(session) -> float:
    """Jacobian covariance score of Mellor et al. (2020, v1), as ``jacob_cov`` in Abdelfattah et al. 2021.

    With ``Σ`` the correlation matrix of the per-sample input gradients and
    ``λ_i`` its eigenvalues, the score is ``-sum_i [log(λ_i + k) + 1/(λ_i + k)]``
    with ``k = 1e-5``: highest when the samples' gradients are uncorrelated.
    Deviations: eigenvalues come from the symmetric solver (``eigvalsh``) and
    are clipped at 0; zero-variance rows get correlation 1 (see module doc).
    """
    return jacov_score(session.shared("jacobian").cpu().numpy())


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
    "epe_nas", higher_is_better=True, needs_labels=True, needs_data=True, removes_bn=False, uses=("jacobian",),
    description="EPE-NAS: per-class Jacobian correlation score",
    citation="Lopes et al., EPE-NAS: Efficient Performance Estimation Without Training for NAS, ICANN 2021",
)
def epe_nas(session) -> float:
    """EPE-NAS (Lopes et al. 2021), as implemented in NAS-Bench-Suite-Zero (NASLib).

    For each class ``c`` present in the batch, ``s_c = sum log(|Σ_c| + 1e-5)``
    over the correlation matrix ``Σ_c`` of that class's per-sample input
    gradients; the score is ``sum_c |s_c|`` (for more than 100 classes,
    ``sum_{c,c'} |s_c - s_c'| / #classes``). Labels only group the samples.
    Deviation: zero-variance rows get correlation 1 (the reference gives NaN).
    """
    j = session.shared("jacobian").cpu().numpy()
    labels = session.targets.cpu().numpy()
    n_classes = session._num_classes or int(labels.max()) + 1
    return epe_score(j, labels, n_classes)
