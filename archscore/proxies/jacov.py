"""Jacobian covariance (jacov): Mellor et al. 2020 (v1), as ``jacob_cov`` in Abdelfattah et al. 2021."""

from __future__ import annotations

import numpy as np

from archscore.proxies.base import register_proxy
from archscore.proxies.jacobian import EPS, InputJacobian, correlation_matrix


def jacov_score(j: np.ndarray, eps: float = EPS) -> float:
    """``-sum_i [log(λ_i + eps) + 1/(λ_i + eps)]`` over the eigenvalues of the correlation of ``j``'s rows."""
    v = np.linalg.eigvalsh(correlation_matrix(j))
    v = np.clip(v, 0.0, None)  # round-off can make a zero eigenvalue slightly negative
    return float(-np.sum(np.log(v + eps) + 1.0 / (v + eps)))


@register_proxy(
    "jacov", higher_is_better=True, needs_labels=False, needs_data=True, removes_bn=False, uses=(InputJacobian,),
    description="Jacobian covariance: eigenvalue score of the correlation of per-sample input gradients",
    citation="Mellor et al., Neural Architecture Search without Training, arXiv:2006.04647v1, 2020; " +
             "Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021",
)
def jacov(session) -> float:
    """Jacobian covariance score of Mellor et al. (2020, v1), as ``jacob_cov`` in Abdelfattah et al. 2021.

    With ``Σ`` the correlation matrix of the per-sample input gradients
    (provider :class:`~archscore.proxies.jacobian.InputJacobian`) and ``λ_i``
    its eigenvalues, the score is ``-sum_i [log(λ_i + k) + 1/(λ_i + k)]``
    with ``k = 1e-5``: highest when the samples' gradients are uncorrelated.
    Deviations: eigenvalues come from the symmetric solver (``eigvalsh``) and
    are clipped at 0; zero-variance rows get correlation 1 (see
    :mod:`archscore.proxies.jacobian`).
    """
    return jacov_score(session.shared(InputJacobian).cpu().numpy())
