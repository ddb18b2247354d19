import numpy as np
import pytest

from archscore import metrics as M


def test_hand_computed_correlations():
    y = [1, 2, 3, 4]
    assert M.spearman(y, [1, 2, 3, 4]) == pytest.approx(1.0)
    assert M.spearman(y, [4, 3, 2, 1]) == pytest.approx(-1.0)  # sign kept, no abs()
    # one discordant pair out of 6: tau = (5 - 1) / 6
    assert M.kendall(y, [1, 2, 4, 3]) == pytest.approx(4 / 6)
    # ranks d = (0, 0, 1, -1): rho = 1 - 6*2 / (4*15) = 0.8
    assert M.spearman(y, [1, 2, 4, 3]) == pytest.approx(0.8)
    assert M.pearson([0, 1, 2], [0, 2, 4]) == pytest.approx(1.0)


def test_kendall_is_tau_b_with_ties():
    # tau-b for x=(1,2,3), y=(1,1,2): concordant 2, discordant 0, ties in y 1
    # tau_b = 2 / sqrt(3 * 2)
    assert M.kendall([1, 2, 3], [1, 1, 2]) == pytest.approx(2 / np.sqrt(6))


def test_precision_at_k_and_regret():
    y_true = [10, 50, 30, 40, 20]
    y_pred = [0.5, 0.9, 0.1, 0.2, 0.8]  # predicted top-2: idx 1, 4; true top-2: idx 1, 3
    assert M.precision_at_k(y_true, y_pred, 2) == 0.5
    assert M.regret(y_true, y_pred) == 0.0  # top-1 pick is the true best
    assert M.regret(y_true, [1, 0, 0, 0, 0]) == 40.0
    assert M.regret(y_true, [1, 0, 0, 0, 0.5], k=2) == 30.0


@pytest.mark.parametrize("fn", [M.spearman, M.kendall, M.pearson])
def test_bad_input_raises(fn):
    with pytest.raises(ValueError, match="different lengths"):
        fn([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="non-finite"):
        fn([1, 2, np.nan], [1, 2, 3])
    with pytest.raises(ValueError, match="constant"):
        fn([1, 2, 3], [5, 5, 5])


def test_k_out_of_range():
    with pytest.raises(ValueError, match="k must be"):
        M.precision_at_k([1, 2], [1, 2], 3)


def test_bootstrap_ci_brackets_value_and_is_seeded():
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    p = y + rng.normal(size=200)
    v, lo, hi = M.bootstrap_ci(M.spearman, y, p, n_boot=200, seed=1)
    assert lo < v < hi
    assert M.bootstrap_ci(M.spearman, y, p, n_boot=200, seed=1) == (v, lo, hi)
