"""``zc:ensemble``: a label-free rank aggregation of complementary zero-cost proxies.

How it works
------------
Each architecture of the candidate list is built and scored with a few
zero-cost proxies in one :func:`archscore.proxies.compute` call (shared
forward/backward passes). Every proxy's scores are turned into normalised
ranks over the candidates, ``r = rank / n`` in ``(0, 1]`` (1 = best, average
ranks for ties), and an architecture's ensemble score is the mean of the
logarithms of its ranks::

    score(a) = mean_m log(rank_m(a) / n)

This is the non-linear rank aggregation of AZ-NAS (Lee & Ham, "AZ-NAS:
Assembling Zero-Cost Proxies for Network Architecture Search", CVPR 2024,
eq. 6). Taking the log before averaging makes the ensemble *conservative*: a
candidate must be good on every proxy to rank high, because a low rank on any
one of them costs much more than a high rank on another earns (log is concave).
Ranks, rather than raw values, make proxies of different scales (synflow spans
dozens of orders of magnitude, NASWOT a few units) commensurable without any
fitted weights, so the ensemble needs no labels.

Which proxies, and why
----------------------
Following AZ-NAS, the ensemble takes one proxy per aspect of an untrained
network that predicts its trained accuracy, so that their errors are as
independent as possible:

* ``meco`` - expressivity: the smallest eigenvalue of the feature
  correlation matrices over the minibatch (Jiang et al., NeurIPS 2023);
* ``jacov`` - how differently the network's local linear maps treat the
  inputs: the correlation of the input Jacobians (Mellor et al. 2020);
* ``synflow`` - data-free signal propagation through the weights (Tanaka et
  al. 2020); exactly 0 for a network with no input-output path;
* ``flops`` - complexity, the fourth component of AZ-NAS.

All four are cheap (one forward pass with hooks, one Jacobian backward, one
all-ones float64 pass, one counted forward). The set was chosen on cells
disjoint from every evaluation set: the 58 connected cells among the first 60
of ``nb201_cifar10_curves_200archs.csv`` that are neither in the 200-cell
reference set nor in the 300-cell full-space sample (``archscore bench proxies
--protocol design --design-n 60``). There the log-rank aggregate of these four
reaches Spearman 0.918 against ``valid_acc_200ep`` (best single proxy, meco,
0.903). The label-based gradient-saliency proxies (snip, grad_norm, fisher,
grasp) were left out: on the original code's reference scores of the other
187 connected curve cells, adding any of them to a combination of synflow,
jacov and params lowered its Spearman (0.890 -> 0.845 with snip), and log-rank
beat mean-rank on every such combination. Dropping ``flops`` scored
0.931, a difference well inside the bootstrap noise of 58 cells
(95% interval of the difference [-0.05, +0.03]); the complexity term was kept
for the AZ-NAS reason that capacity is the aspect the other three measure
least directly.

Complexity anchor
-----------------
From 50 candidates on, a proxy whose Spearman correlation with ``flops``
over the candidates is at most 0.2 is left out of the aggregate
(:func:`anchored_proxies`; parameters ``anchor``, ``anchor_min_corr``; no
label is read). Model size is the signal that holds up best across
NAS-Bench-Suite-Zero's spaces and tasks, and a proxy ranking a space's
candidates against it was wrong there more often than right: on the 16
development tasks of the Suite-Zero files (NB101, NB301, TransNAS-Bench-101
micro and macro, their recorded proxies) the rule raised the fixed set's
mean Spearman from 0.585 to 0.625 and lowered it on none; on NB101 it
drops ``jacov`` (Spearman -0.33 with ``flops``, -0.53 with the validation
accuracy) and the ensemble goes from 0.349 to 0.731. On NB201 nothing is
dropped (the three proxies' Spearman with ``flops`` is 0.43-0.82 over 3,000
cells, 0.31-0.79 over the 200 hard-case cells), so the choice above stands.
Below 50 candidates the correlation is too noisy to act on.

Architectures without a path from input to output (:meth:`Arch.is_connected`
is false) compute a constant function: they are ranked below every connected
one (their score is the lowest connected score minus one) and are left out of
the ranks of the connected ones, so they do not shift them.

Deviation from AZ-NAS: AZ-NAS aggregates four proxies of its own
(expressivity, progressivity, trainability, FLOPs) computed from feature
statistics; this ensemble aggregates proxies from archscore's suite instead,
with the same log-rank rule. AZ-NAS itself is available too: its proxies are
``az_expressivity``, ``az_progressivity`` and ``az_trainability``
(:mod:`archscore.proxies.az_nas`) and its score is
``create_estimator("zc:ensemble", proxies=AZ_NAS_PROXIES, anchor=None)``
(the row ``az_nas`` of the proxy benchmarks' results pages). A proxy that is
NaN for some candidate (undefined there) is left out of that candidate's mean
instead of failing the call.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from archscore.arch import Arch
from archscore.base import Estimator, Tags, register_estimator
from archscore.encodings.zc import lookup_scores
from archscore.metrics import spearman
from archscore.testing import TEST_SPACE

logger = logging.getLogger(__name__)

#: The proxies aggregated by default (see the module docstring for the reasons).
DEFAULT_PROXIES: tuple[str, ...] = ("meco", "jacov", "synflow", "flops")

#: Complexity anchor of the ensemble: proxies ranking the candidates against it are left out (:func:`anchored_proxies`).
DEFAULT_ANCHOR: str = "flops"
#: A proxy is kept when its Spearman with the anchor over the candidates exceeds this.
ANCHOR_MIN_CORR: float = 0.2
#: Fewer candidates than this (with both scores defined): the correlation is too noisy to act on, every proxy is kept.
ANCHOR_MIN_CANDIDATES: int = 50

#: Aggregation rules understood by :func:`rank_aggregate`.
AGGREGATIONS = ("log_rank", "mean_rank")


def rank_aggregate(
    scores: Mapping[str, Sequence[float]],
    higher_is_better: Mapping[str, bool] | None = None,
    *,
    valid: Sequence[bool] | None = None,
    method: str = "log_rank",
) -> np.ndarray:
    """Aggregate several proxies' scores of the same candidates into one ranking score.

    Parameters
    ----------
    scores : mapping of str to sequence of float
        ``{proxy: values}``, every sequence of the same length ``n`` (one value
        per candidate). NaN means "undefined for this candidate"; ``-inf`` /
        ``+inf`` are ranked as the worst / best values.
    higher_is_better : mapping of str to bool, optional
        Direction of each proxy (default: higher is better for all). Proxies
        where lower is better are negated before ranking.
    valid : sequence of bool, optional
        Candidates that may be ranked (default all). Invalid ones (e.g.
        disconnected cells) get a score below every valid candidate and do
        not take part in the ranks of the valid ones.
    method : {"log_rank", "mean_rank"}, default="log_rank"
        ``"log_rank"``: mean of ``log(rank / n_m)`` (AZ-NAS); ``"mean_rank"``:
        mean of ``rank / n_m``, where ``n_m`` is the number of valid candidates
        with a defined value of proxy ``m`` and rank ``n_m`` is the best.

    Returns
    -------
    ndarray of shape (n,)
        Higher is better. Equal inputs give equal scores (ties are kept), and
        permuting the candidates permutes the output the same way.

    Examples
    --------
    >>> rank_aggregate({"a": [1.0, 2.0, 3.0], "b": [3.0, 1.0, 2.0]}, method="mean_rank")
    array([0.66666667, 0.5       , 0.83333333])
    """
    if method not in AGGREGATIONS:
        raise ValueError(f"method must be one of {AGGREGATIONS}, got {method!r}")
    if not scores:
        raise ValueError("scores is empty: need at least one proxy's values")
    higher_is_better = dict(higher_is_better or {})
    unknown = sorted(set(higher_is_better) - set(scores))
    if unknown:
        raise ValueError(f"higher_is_better names proxies without scores: {unknown}")
    columns = _oriented(scores, higher_is_better)
    lengths = {name: v.shape[0] for name, v in columns.items()}
    n = next(iter(lengths.values()))
    if any(m != n for m in lengths.values()):
        raise ValueError(f"every proxy needs one value per candidate; got lengths {lengths}")
    ok = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool).reshape(-1)
    if ok.shape != (n,):
        raise ValueError(f"valid has {ok.shape[0]} entries for {n} candidates")

    total = np.zeros(n)
    count = np.zeros(n)
    for v in columns.values():
        defined = ok & ~np.isnan(v)
        m = int(defined.sum())
        if m == 0:
            continue
        r = rankdata(v[defined], method="average") / m  # in (0, 1], 1 = best; inf ranks like a huge value
        total[defined] += np.log(r) if method == "log_rank" else r
        count[defined] += 1
    out = np.empty(n)
    has = count > 0
    out[has] = total[has] / count[has]
    # Candidates with no defined proxy or marked invalid go below every ranked one.
    floor = (out[has].min() if has.any() else 0.0) - 1.0
    out[~has] = floor
    return out


def anchored_proxies(
    scores: Mapping[str, Sequence[float]],
    higher_is_better: Mapping[str, bool] | None = None,
    *,
    anchor: str = DEFAULT_ANCHOR,
    min_corr: float = ANCHOR_MIN_CORR,
    valid: Sequence[bool] | None = None,
    min_candidates: int = ANCHOR_MIN_CANDIDATES,
) -> list[str]:
    """The proxies whose ranking of these candidates agrees with a complexity ``anchor`` (label-free).

    A proxy is kept when its Spearman correlation with ``anchor`` (both
    oriented so that higher is better) over the valid candidates where both
    are defined exceeds ``min_corr``; the anchor itself is always kept. Below
    ``min_candidates`` such candidates the correlation is too noisy to act on
    and the proxy is kept; without an ``anchor`` column every proxy is kept.

    Why: model size (FLOPs, parameters) is the signal that holds up best
    across the search spaces and tasks of NAS-Bench-Suite-Zero (Krishnakumar
    et al., NeurIPS 2022 Datasets and Benchmarks), and a proxy that ranks a
    space's candidates against it is more often wrong there than right; for
    example ``jacov`` on NAS-Bench-101 (Spearman -0.33 with ``flops`` and
    -0.53 with the validation accuracy on the 289 architectures of the
    development file). No label is read: only the candidates' proxy scores.
    """
    if anchor not in scores:
        return list(scores)
    columns = _oriented(scores, higher_is_better)
    lengths = {p: v.shape[0] for p, v in columns.items()}
    n = lengths[anchor]
    ok = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool).reshape(-1)
    if ok.shape != (n,) or any(m != n for m in lengths.values()):
        raise ValueError(f"every proxy and valid need one value per candidate; got lengths {lengths}, valid {ok.shape[0]}")
    a = columns[anchor]
    kept = []
    for name, v in columns.items():
        both = ok & ~np.isnan(v) & ~np.isnan(a)
        too_few = both.sum() < min_candidates or np.ptp(v[both]) == 0 or np.ptp(a[both]) == 0
        if name == anchor or too_few or spearman(a[both], v[both]) > min_corr:
            kept.append(name)
    return kept


def _oriented(scores: Mapping[str, Sequence[float]], higher_is_better: Mapping[str, bool] | None) -> dict[str, np.ndarray]:
    """Each proxy's values as a float vector, negated where lower is better (default: higher is better)."""
    direction = dict(higher_is_better or {})
    return {name: (v if direction.get(name, True) else -v)
            for name, v in ((name, np.asarray(values, dtype=float).reshape(-1)) for name, values in scores.items())}


def ensemble_score(
    scores: Mapping[str, Sequence[float]],
    higher_is_better: Mapping[str, bool] | None = None,
    *,
    valid: Sequence[bool] | None = None,
    method: str = "log_rank",
    anchor: str | None = DEFAULT_ANCHOR,
    anchor_min_corr: float = ANCHOR_MIN_CORR,
) -> np.ndarray:
    """``zc:ensemble``'s score of the candidates: :func:`rank_aggregate` over the :func:`anchored_proxies` (all when ``anchor`` is None)."""
    names = list(scores)
    if anchor is not None:
        names = anchored_proxies(scores, higher_is_better, anchor=anchor, min_corr=anchor_min_corr, valid=valid)
        left_out = [p for p in scores if p not in names]
        if left_out:
            logger.info("zc:ensemble: %s left out (Spearman with %s <= %g over these candidates)", ", ".join(left_out), anchor,
                        anchor_min_corr)
    direction = {p: v for p, v in dict(higher_is_better or {}).items() if p in names}
    return rank_aggregate({p: scores[p] for p in names}, direction, valid=valid, method=method)


@register_estimator(
    "zc:ensemble",
    description="label-free log-rank aggregation of meco, jacov, synflow and flops (AZ-NAS-style); needs data=",
    test_params={"space": TEST_SPACE, "proxies": ("params", "l2_norm")},
)
class ZeroCostEnsemble(Estimator):
    """Rank aggregation of complementary zero-cost proxies over a candidate list.

    Builds every architecture (after ``torch.manual_seed(init_seed or seed)``), scores it
    with ``proxies`` on the minibatch ``data=(inputs, targets)`` in one
    :func:`archscore.proxies.compute` call, and aggregates the proxies' ranks
    with :func:`rank_aggregate`. The scores are relative to the list passed
    to ``predict``: compare candidates scored together. With precomputed
    ``scores=`` (what ``archscore score`` writes: one column per proxy)
    instead of ``data=``, the proxies are read from it, not run. Disconnected
    architectures rank last. See the module docstring for the design.

    Parameters
    ----------
    proxies : sequence of str, default=DEFAULT_PROXIES
        Registered proxy names to aggregate.
    method : {"log_rank", "mean_rank"}, default="log_rank"
        Aggregation rule, see :func:`rank_aggregate`.
    space : None, str or SearchSpace, default=None
        Builds the networks; None means ``get_space(arch.space)`` (e.g. pass
        :data:`archscore.testing.TEST_SPACE` for narrow networks in tests).
    seed : int, default=0
        Seed of the proxy computation and (unless ``init_seed``) of model init.
    init_seed : int, optional
        ``torch.manual_seed(init_seed)`` right before each model is built (42
        reproduces the shared reference protocol).
    device : None, "auto", "cpu" or "cuda"
        Torch device for the proxies.
    nan_policy : {"raise", "warn", "ignore"}, default="warn"
        What :func:`archscore.proxies.compute` does where a proxy is undefined;
        NaN scores are then left out of that candidate's aggregate.
    progress : bool, default=False
        Show a progress bar over the candidates.
    anchor : str or None, default="flops"
        Complexity anchor: with at least 50 candidates, a proxy whose Spearman
        with the anchor's scores over them is <= ``anchor_min_corr`` is left
        out of the aggregate (:func:`anchored_proxies`; no labels read). None
        aggregates every proxy. Ignored when the anchor is not among ``proxies``.
    anchor_min_corr : float, default=0.2
    """

    def __archscore_tags__(self) -> Tags:
        tags = super().__archscore_tags__()
        tags.family = "proxy"
        tags.input.needs_data = True
        tags.output.comparable_across_calls = False  # log-ranks within the candidates of one call
        return tags

    def __init__(
        self,
        proxies: Sequence[str] = DEFAULT_PROXIES,
        method: str = "log_rank",
        space: Any = None,
        seed: int = 0,
        init_seed: int | None = None,
        device: Any = None,
        nan_policy: str = "warn",
        progress: bool = False,
        anchor: str | None = DEFAULT_ANCHOR,
        anchor_min_corr: float = ANCHOR_MIN_CORR,
    ) -> None:
        self.proxies = proxies
        self.method = method
        self.space = space
        self.seed = seed
        self.init_seed = init_seed
        self.device = device
        self.nan_policy = nan_policy
        self.progress = progress
        self.anchor = anchor
        self.anchor_min_corr = anchor_min_corr

    def _resolved_proxies(self) -> list[str]:
        from archscore.proxies import list_proxies

        if isinstance(self.proxies, str) or not len(self.proxies):
            raise ValueError(f"proxies must be a non-empty sequence of proxy names, got {self.proxies!r}")
        if self.method not in AGGREGATIONS:
            raise ValueError(f"method must be one of {AGGREGATIONS}, got {self.method!r}")
        known = set(list_proxies())
        missing = [p for p in self.proxies if p not in known]
        if missing:
            raise ValueError(f"unknown proxies {missing}; registered: {sorted(known)}")
        return list(self.proxies)

    def _fit(self, archs: list[Arch], y: np.ndarray | None, **context: Any) -> None:
        # Nothing to learn (label-free); record the resolved configuration.
        self.proxies_ = tuple(self._resolved_proxies())

    def _check_context(self, context: dict[str, Any], n: int, tags: Tags) -> None:
        # precomputed scores= stand in for data=: the proxies are read, not run
        if context.get("data") is None and context.get("scores") is not None:
            tags = copy.deepcopy(tags)
            tags.input.needs_data = False
        super()._check_context(context, n, tags)

    def _predict(self, archs: list[Arch], **context: Any) -> np.ndarray:
        from archscore.proxies import proxy_info

        proxies = self._resolved_proxies()
        if context.get("data") is not None:
            inputs, targets = context["data"]
            table = self._proxy_table(archs, inputs, targets, proxies)
        else:
            table = precomputed_table(archs, context["scores"], proxies)
        direction = {p: bool(proxy_info(p)["higher_is_better"]) for p in proxies}
        valid = [a.is_connected() for a in archs]
        return ensemble_score(table, direction, valid=valid, method=self.method, anchor=self.anchor,
                              anchor_min_corr=float(self.anchor_min_corr))

    def proxy_scores(self, archs: Sequence[Arch], data: Any, proxies: Sequence[str] | None = None) -> pd.DataFrame:
        """The raw per-proxy scores the ensemble aggregates: one row per architecture, one column per proxy.

        Computed exactly as :meth:`predict` computes them (same seeds, space
        and device), so a cache of these values (e.g. a
        :class:`~archscore.store.ScoreStore`) passed back as ``scores=`` gives
        the same predictions as scoring live.
        """
        names = self._resolved_proxies() if proxies is None else list(proxies)
        unknown = [p for p in names if p not in self._resolved_proxies()]
        if unknown:
            raise ValueError(f"proxies {unknown} are not among this ensemble's proxies {self._resolved_proxies()}")
        inputs, targets = data
        table = self._proxy_table(list(archs), inputs, targets, names)
        return pd.DataFrame(table, columns=names)

    def _proxy_table(self, archs: list[Arch], inputs: Any, targets: Any, proxies: list[str]) -> dict[str, np.ndarray]:
        from archscore.proxies import score_archs

        frame = score_archs(
            archs, inputs, targets, proxies=proxies, space=self.space, seed=self.seed, init_seed=self.init_seed,
            device=self.device, nan_policy=self.nan_policy, progress=self.progress,
        )
        return {p: frame[p].to_numpy(dtype=float) for p in proxies}


def precomputed_table(archs: Sequence[Arch], scores: Any, proxies: Sequence[str]) -> dict[str, np.ndarray]:
    """``{proxy: values}`` of ``archs`` read from precomputed ``scores=`` (what ``archscore score`` writes).

    ``scores`` is a DataFrame indexed by architecture string (or with an
    ``arch`` column; ``archscore score --out`` files read with pandas) or a
    mapping ``{arch string or key: {proxy: value}}``. An architecture missing
    from it, or a proxy without a column, raises ``ValueError`` naming them.
    """
    if isinstance(scores, pd.DataFrame):
        frame = scores.set_index("arch") if "arch" in scores.columns else scores
        missing_cols = [p for p in proxies if p not in frame.columns]
        if missing_cols:
            raise ValueError(f"scores= has no column for proxies {missing_cols}; its columns: {[str(c) for c in frame.columns]}")
        mapping: Mapping[Any, Mapping[str, Any]] = frame.to_dict(orient="index")
    elif isinstance(scores, Mapping):
        mapping = scores
    else:
        raise TypeError(f"scores= must be a DataFrame or a mapping {{arch: {{proxy: value}}}}, got {type(scores).__name__}")
    out = {p: np.empty(len(archs)) for p in proxies}
    absent = []
    for i, arch in enumerate(archs):
        rec = lookup_scores(arch, mapping)
        if rec is None:
            absent.append(arch)
            continue
        lacking = [p for p in proxies if p not in rec]
        if lacking:
            raise ValueError(f"scores= for architecture {arch.spec!r} lacks proxies {lacking}")
        for p in proxies:
            v = rec[p]
            out[p][i] = float("nan") if v is None else float(v)
    if absent:
        raise ValueError(f"scores= has no entry for {len(absent)} of the {len(archs)} architectures (first: {absent[0].spec!r}); "
                         "score them first (`archscore score`) or pass data= to compute the proxies")
    return out


__all__ = ["rank_aggregate", "anchored_proxies", "ensemble_score", "precomputed_table", "DEFAULT_ANCHOR", "ZeroCostEnsemble", "DEFAULT_PROXIES", "AGGREGATIONS"]
