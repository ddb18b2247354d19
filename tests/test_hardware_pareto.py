"""Pareto front, non-dominated sorting and hypervolume on hand-made point sets."""

import numpy as np
import pandas as pd
import pytest

from archscore.hardware import hypervolume, non_dominated_sort, pareto_front


def test_non_dominated_sort_fronts():
    pts = [(1, 3), (2, 2), (3, 1), (2, 3), (3, 3), (2, 2)]  # minimise both; (2,2) twice
    fronts = non_dominated_sort(pts)
    assert [f.tolist() for f in fronts] == [[0, 1, 2, 5], [3], [4]]
    # maximising both flips the order
    assert [f.tolist() for f in non_dominated_sort(pts, maximize=True)] == [[4], [2, 3], [0, 1, 5]]
    assert non_dominated_sort(np.zeros((0, 2))) == []


def test_pareto_front_frame():
    df = pd.DataFrame({"acc": [90, 92, 85, 92, 70], "lat": [5.0, 7.0, 4.0, 6.0, 4.0]}, index=list("abcde"))
    front = pareto_front(df, {"acc": "max", "lat": "min"})
    # b is dominated by d (same acc, faster); e by c (same latency, more accurate)
    assert front.index.tolist() == ["d", "a", "c"]
    with pytest.raises(ValueError, match="'min' or 'max'"):
        pareto_front(df, {"acc": "up"})
    with pytest.raises(KeyError, match="energy"):
        pareto_front(df, {"energy": "min"})


def test_hypervolume_exact():
    # three staircase points, minimised, ref (4, 4): 3x1 + 2x1 + 1x1
    assert hypervolume([(1, 3), (2, 2), (3, 1)], ref=(4, 4)) == 6.0
    # a dominated point and a point beyond the reference add nothing
    assert hypervolume([(1, 3), (2, 2), (3, 1), (3, 3), (5, 0)], ref=(4, 4)) == 6.0
    # maximised: boxes [0,3]x[0,1], [0,2]x[0,2], [0,1]x[0,3] -> union 6
    assert hypervolume([(3, 1), (2, 2), (1, 3)], ref=(0, 0), maximize=True) == 6.0
    # mixed directions: maximise accuracy, minimise latency
    assert hypervolume([(90, 5.0), (80, 2.0)], ref=(0, 10), maximize=[True, False]) == 90 * 5 + 80 * 3
    # 3-D: boxes 2x2x1 and 1x1x2 overlapping in a unit cube -> 4 + 2 - 1
    assert hypervolume([(0, 0, 1), (1, 1, 0)], ref=(2, 2, 2)) == 5.0
    assert hypervolume([(1, 1, 1)], ref=(2, 3, 4)) == 6.0
    assert hypervolume(np.zeros((0, 2)), ref=(1, 1)) == 0.0
    with pytest.raises(ValueError, match="NaN"):
        hypervolume([(np.nan, 1)], ref=(2, 2))
