import numpy as np
import pytest

from archscore import get_space
from archscore.base import Estimator
from archscore.search import random_search, regularized_evolution


class CountConvs(Estimator):
    """Toy estimator: number of 3x3 convolutions in the cell."""

    def __init__(self):
        pass

    def _predict(self, archs, **context):
        return np.array([sum(op == "nor_conv_3x3" for op in a.ops) for a in archs], dtype=float)


def test_mutate_changes_exactly_one_op():
    space = get_space("nb201")
    arch = space.sample(1, seed=0)[0]
    for seed in range(20):
        child = space.mutate(arch, seed)
        diff = [a != b for a, b in zip(space.cell_ops(arch), space.cell_ops(child))]
        assert sum(diff) == 1
    assert space.mutate(arch, 5) == space.mutate(arch, 5)


def test_evolution_climbs_a_known_objective():
    space = get_space("nb201")
    res = regularized_evolution(space, CountConvs(), budget=300, population_size=10, tournament_size=3, seed=0)
    assert len(res.archs) == 300
    # the objective's optimum is 6 (all 3x3 convs); random cells average 6/5
    assert max(res.scores) == 6 and space.cell_ops(res.best) == ["nor_conv_3x3"] * 6
    truth = lambda a: float(sum(op == "nor_conv_3x3" for op in a.ops))  # noqa: E731
    curve = res.best_so_far(truth)
    assert np.all(np.diff(curve) >= 0) and curve[-1] == 6


def test_random_search_and_bad_budget():
    space = get_space("nb201")
    res = random_search(space, CountConvs(), budget=30, seed=1)
    assert len(res.archs) == 30 and res.scores[res.archs.index(res.best)] == max(res.scores)
    with pytest.raises(ValueError, match="budget"):
        random_search(space, CountConvs(), budget=0)
    with pytest.raises(ValueError, match="tournament_size"):
        regularized_evolution(space, CountConvs(), budget=5, population_size=3, tournament_size=4)
