"""Search loops that consume any :class:`~archscore.base.Estimator`.

Both loops ask the estimator for scores instead of training candidates, and
return a :class:`SearchResult` whose history can be checked against ground
truth (for example with :func:`archscore.metrics.regret`).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from archscore.arch import Arch
from archscore.base import Estimator
from archscore.spaces.base import SearchSpace

logger = logging.getLogger(__name__)


@dataclass
class SearchResult:
    """Every architecture a search evaluated, in order, with its estimated score."""

    archs: list[Arch] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    @property
    def best(self) -> Arch:
        """The architecture with the highest estimated score (first one on ties)."""
        if not self.archs:
            raise ValueError("the search evaluated no architecture")
        return self.archs[int(np.argmax(self.scores))]

    def best_so_far(self, truth: Callable[[Arch], float]) -> np.ndarray:
        """True accuracy of the estimator's pick after each evaluation (for regret curves)."""
        out, best_i = [], 0
        for i, s in enumerate(self.scores):
            if s > self.scores[best_i]:
                best_i = i
            out.append(truth(self.archs[best_i]))
        return np.asarray(out, dtype=float)


def _check_budget(budget: int) -> int:
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"budget must be a positive integer, got {budget!r}")
    return int(budget)


def random_search(
    space: SearchSpace, estimator: Estimator, budget: int, *, seed: int | None = 0, **context: Any
) -> SearchResult:
    """Score ``budget`` uniformly sampled architectures and keep them all.

    ``context`` (``data=``, ``scores=``...) is passed to ``estimator.predict``.
    """
    budget = _check_budget(budget)
    archs = space.sample(budget, seed=seed)
    scores = estimator.predict(archs, **context)
    return SearchResult(list(archs), [float(s) for s in scores])


def regularized_evolution(
    space: SearchSpace,
    estimator: Estimator,
    budget: int,
    *,
    population_size: int = 20,
    tournament_size: int = 5,
    seed: int | None = 0,
    **context: Any,
) -> SearchResult:
    """Regularized evolution (Real et al., AAAI 2019) driven by an estimator.

    A population of ``population_size`` random architectures evolves: each step
    samples ``tournament_size`` members, mutates the best one (one op changed,
    :meth:`SearchSpace.mutate`), scores the child and replaces the oldest member.
    """
    budget = _check_budget(budget)
    if not 1 <= tournament_size <= population_size:
        raise ValueError(f"need 1 <= tournament_size <= population_size, got {tournament_size} and {population_size}")
    rng = np.random.default_rng(seed)
    n_init = min(population_size, budget)
    first = space.sample(n_init, seed=int(rng.integers(2**31)))
    result = SearchResult(list(first), [float(s) for s in estimator.predict(first, **context)])
    population: deque[tuple[Arch, float]] = deque(zip(result.archs, result.scores))
    while len(result.archs) < budget:
        members = [population[i] for i in rng.choice(len(population), size=min(tournament_size, len(population)), replace=False)]
        parent = max(members, key=lambda m: m[1])[0]
        child = space.mutate(parent, rng)
        score = float(estimator.predict([child], **context)[0])
        population.append((child, score))
        if len(population) > population_size:
            population.popleft()
        result.archs.append(child)
        result.scores.append(score)
    logger.info("regularized evolution: %d evaluations, best score %.4g", budget, max(result.scores))
    return result
