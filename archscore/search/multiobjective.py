"""Multi-objective strategies: ``nsga2`` (steady-state NSGA-II over mutations) and ``rea-mo`` (regularized evolution on Pareto rank).

Both read the objectives given to :func:`archscore.search.search`
(``objectives={"valid_acc_200ep": "max", "edgegpu_latency": "min"}``) through
``ctx.objective_values`` and rank members by non-dominated sorting
(:func:`archscore.hardware.pareto.non_dominated_sort`), ties within a front
broken by crowding distance (Deb, Pratap, Agarwal & Meyarivan, "A fast and
elitist multiobjective genetic algorithm: NSGA-II", IEEE TEC 2002). The
offspring of a step is one mutation of a tournament winner, as in
regularized evolution (Real et al. 2019), so every query is one new
architecture. Failed queries never enter the population.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from archscore.arch import Arch
from archscore.hardware.pareto import non_dominated_sort
from archscore.search.base import Proposal, Strategy, register_strategy
from archscore.search.strategies import _WarmStart


def crowding_distance(points: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of the points of one front (rows), in objective-range units.

    Per objective, the points are sorted; the two extremes get ``inf`` and
    every other point adds ``(next - previous) / (max - min)``. A front of
    one or two points is all ``inf``.
    """
    P = np.asarray(points, dtype=float)
    n, m = P.shape
    d = np.zeros(n)
    if n <= 2:
        return np.full(n, math.inf)
    for j in range(m):
        order = np.argsort(P[:, j], kind="stable")
        col = P[order, j]
        span = col[-1] - col[0]
        d[order[0]] = d[order[-1]] = math.inf
        if span <= 0:
            continue
        d[order[1:-1]] += (col[2:] - col[:-2]) / span
    return d


def rank_and_crowding(points: np.ndarray, maximize: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Pareto rank (0: the front) and crowding distance within its front of every point."""
    P = np.asarray(points, dtype=float)
    rank = np.zeros(len(P), int)
    crowd = np.zeros(len(P))
    if not len(P):
        return rank, crowd
    flags = np.asarray(maximize, bool)
    M = np.where(flags, -P, P)  # minimisation form
    for r, idx in enumerate(non_dominated_sort(M)):
        rank[idx] = r
        crowd[idx] = crowding_distance(M[idx])
    return rank, crowd


def _check_int(name: str, v: Any, low: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    return int(v)


@register_strategy("nsga2", description="multi-objective evolution: NSGA-II ranking (non-dominated sorting + crowding) and elitist survival over mutations")
class NSGA2(Strategy):
    """Steady-state NSGA-II over one-op mutations, for ``search(..., objectives=...)``.

    A population of ``population_size`` architectures (the pool's top, else
    uniform samples) is evaluated; each step draws ``tournament_size``
    members, mutates the best by (Pareto rank, then larger crowding
    distance), queries the child and adds it; when the population is over
    size, the worst member (last front, smallest crowding distance, the
    oldest among ties) is dropped -- NSGA-II's elitist survival, one child at
    a time.

    Parameters
    ----------
    population_size : int, default=20
    tournament_size : int, default=2
        Binary tournament as in NSGA-II.
    batch_size : int, default=1
        Children proposed per step.
    """

    name = "nsga2"
    needs_mutate = True
    survival = "elitist"

    def __init__(self, population_size: int = 20, tournament_size: int = 2, batch_size: int = 1) -> None:
        self.population_size = population_size
        self.tournament_size = tournament_size
        self.batch_size = batch_size

    def start(self, ctx):
        super().start(ctx)
        if not ctx.objectives:
            raise ValueError(f"strategy {self.name!r} is multi-objective: pass objectives={{name: 'min' or 'max', ...}} to search, "
                             "e.g. {'valid_acc_200ep': 'max', 'edgegpu_latency': 'min'}")
        p = _check_int("population_size", self.population_size, 2)
        t = _check_int("tournament_size", self.tournament_size)
        if t > p:
            raise ValueError(f"need tournament_size <= population_size, got {t} and {p}")
        self._bs = _check_int("batch_size", self.batch_size)
        self._maximize = [d == "max" for d in ctx.objectives.values()]
        self._init = _WarmStart.next_new(ctx, p, set())
        self._pop: list[tuple[Arch, np.ndarray]] = []  # oldest first

    def _ranked(self) -> tuple[np.ndarray, np.ndarray]:
        return rank_and_crowding(np.stack([v for _, v in self._pop]), self._maximize)

    def ask(self):
        if self._init:
            batch, self._init = self._init[: self._bs], self._init[self._bs:]
            return [Proposal(a, info={"phase": "init"}) for a in batch]
        if not self._pop:  # every initial query failed: sample afresh
            return [Proposal(a, info={"phase": "init"}) for a in self.ctx.sample(self._bs)]
        rank, crowd = self._ranked()
        out = []
        for _ in range(self._bs):
            idx = self.ctx.rng.choice(len(self._pop), size=min(self.tournament_size, len(self._pop)), replace=False)
            win = min(idx, key=lambda i: (rank[i], -crowd[i], i))
            parent = self._pop[win][0]
            out.append(Proposal(self.ctx.mutate(parent), info={"phase": "mutate", "parent": self.ctx.key(parent),
                                                                "parent_rank": int(rank[win])}))
        return out

    def tell(self, proposals, results):
        members = {self.ctx.key(a) for a, _ in self._pop}
        for p, e in zip(proposals, results):
            if not e.ok:
                continue
            key = self.ctx.key(p.arch)
            vec = self.ctx.objective_values(key, e)
            if vec is None or (self.survival == "elitist" and key in members):
                continue
            self._pop.append((p.arch, vec))
            members.add(key)
        while len(self._pop) > self.population_size:
            if self.survival == "age":
                self._pop.pop(0)
                continue
            rank, crowd = self._ranked()
            # last front, smallest crowding distance; among equals (-i) the oldest member goes
            worst = max(range(len(self._pop)), key=lambda i: (rank[i], -crowd[i], -i))
            self._pop.pop(worst)


@register_strategy("rea-mo", description="regularized evolution with Pareto rank + crowding as fitness (tournament) and ageing")
class RegularizedEvolutionMO(NSGA2):
    """Regularized evolution (Real et al. 2019) with Pareto rank as fitness.

    Tournaments of ``tournament_size`` are won by the lowest Pareto rank (then
    the largest crowding distance); the child replaces the *oldest* member
    (ageing), not the worst as in :class:`NSGA2`.

    Parameters
    ----------
    population_size : int, default=20
    tournament_size : int, default=5
    batch_size : int, default=1
    """

    name = "rea-mo"
    survival = "age"

    def __init__(self, population_size: int = 20, tournament_size: int = 5, batch_size: int = 1) -> None:
        super().__init__(population_size=population_size, tournament_size=tournament_size, batch_size=batch_size)
