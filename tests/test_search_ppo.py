"""PPO (clipped surrogate objective) as an option of the ``reinforce`` strategy."""

import numpy as np
import pandas as pd
import pytest

from archscore import get_space
from archscore.search import FunctionEvaluator, SearchContext, search
from archscore.search.base import Evaluation, Proposal
from archscore.search.strategies import Reinforce

SPACE = get_space("nb201")


def n_conv3(arch):
    """Synthetic reward: how many of the cell's six edges are 3x3 convolutions (uniform random cells: 6/5 on average)."""
    return {"value": float(SPACE.to_string(arch).count("nor_conv_3x3")), "cost": 1.0}


EV = FunctionEvaluator(n_conv3, space="nb201")
PPO = {"algorithm": "ppo", "batch_size": 8, "lr": 0.1}


def test_ppo_raises_the_mean_reward_over_random_and_over_its_start():
    budget = 120
    ppo = search("nb201", "reinforce", EV, budget=budget, seed=0, strategy_params=PPO).history["value"].to_numpy()
    rnd = search("nb201", "random", EV, budget=budget, seed=0).history["value"].to_numpy()
    assert abs(rnd.mean() - 1.2) < 0.3  # uniform cells: 6 edges x 1/5
    assert ppo.mean() > rnd.mean() + 1.0
    assert ppo[-24:].mean() > ppo[:24].mean() + 2.0  # it learned: the last queries are far better than the first


def test_ppo_is_reproducible_and_one_epoch_is_reinforce():
    a = search("nb201", "reinforce", EV, budget=40, seed=3, strategy_params=PPO)
    b = search("nb201", "reinforce", EV, budget=40, seed=3, strategy_params=PPO)
    c = search("nb201", "reinforce", EV, budget=40, seed=4, strategy_params=PPO)
    pd.testing.assert_frame_equal(a.history, b.history)
    assert list(a.history["arch"]) != list(c.history["arch"])
    one = search("nb201", "reinforce", EV, budget=40, seed=3, strategy_params={**PPO, "ppo_epochs": 1})
    rf = search("nb201", "reinforce", EV, budget=40, seed=3, strategy_params={"batch_size": 8, "lr": 0.1})
    pd.testing.assert_frame_equal(one.history, rf.history)
    assert list(a.history["arch"]) != list(rf.history["arch"])  # more epochs: another policy


def _started(**params):
    strat = Reinforce(**params)
    strat.start(SearchContext(SPACE, np.random.default_rng(0), None, [], (), 10))
    return strat


def test_clipped_objective_gradient_by_hand():
    strat = _started(algorithm="ppo", lr=1.0, ppo_epochs=3, batch_size=2)
    grads = []
    adam = strat._adam
    strat._adam = lambda g: (grads.append(g.copy()), adam(g))
    a0 = SPACE.from_ops(["none"] * 6)
    a1 = SPACE.from_ops(["nor_conv_3x3"] * 6)
    strat.tell([Proposal(a0), Proposal(a1)], [Evaluation(0.0), Evaluation(10.0)])
    # the first reward sets the baseline (advantage 0); the second has advantage 10; uniform policy p = 1/5
    conv = strat._ops.index("nor_conv_3x3")
    expected = np.full((6, 5), 10 * -0.2 / 2)
    expected[:, conv] = 10 * 0.8 / 2
    assert len(grads) == 3
    np.testing.assert_allclose(grads[0], expected)
    # after Adam's first step (+-lr per logit) pi(a1)/pi_old(a1) = (e^2 / (e^2 + 4) / 0.2)^6 >> 1 + clip:
    # the clipped term is the minimum, so the sample stops contributing: exact zero gradient
    ratio = (np.exp(2) / (np.exp(2) + 4) / 0.2) ** 6
    assert ratio > 1.2
    assert np.all(grads[1] == 0) and np.all(grads[2] == 0)
    # REINFORCE takes one step per batch
    strat = _started(lr=1.0, batch_size=2)
    grads = []
    adam = strat._adam
    strat._adam = lambda g: (grads.append(g.copy()), adam(g))
    strat.tell([Proposal(a0), Proposal(a1)], [Evaluation(0.0), Evaluation(10.0)])
    assert len(grads) == 1
    np.testing.assert_allclose(grads[0], expected)


def test_bad_ppo_parameters_name_the_problem():
    with pytest.raises(ValueError, match="did you mean 'ppo'"):
        search("nb201", "reinforce", EV, budget=2, strategy_params={"algorithm": "ppo2"})
    for clip in (0, 1.5, "0.2"):
        with pytest.raises(ValueError, match="clip must be in \\(0, 1\\)"):
            search("nb201", "reinforce", EV, budget=2, strategy_params={"algorithm": "ppo", "clip": clip})
    with pytest.raises(ValueError, match="ppo_epochs must be an integer >= 1"):
        search("nb201", "reinforce", EV, budget=2, strategy_params={"algorithm": "ppo", "ppo_epochs": 0})
    assert "algorithm" not in Reinforce().params() and Reinforce(algorithm="ppo").params()["clip"] == 0.2
