"""Search strategies that call cheap estimators and evaluators instead of training everything.

::

    from archscore.search import search, list_strategies, TabularEvaluator, Pool
    ev = TabularEvaluator(table, target="valid_acc_200ep", report="test_acc_200ep", space="nb201")
    res = search("nb201", "bananas", ev, budget=50, seed=0)
    res = search("nb201", "rea", ev, budget=25, seed=0, pool=Pool(size=1000, estimator="zc:ensemble"), scores="pool.csv")
    res.history   # one row per query: arch, value, report, cost, ... and the strategy's fields
    res.best      # the query with the highest value: arch, value, report

Strategies (``list_strategies()``): ``random``, ``rea``, ``local``,
``bananas``, ``reinforce``, ``sh``, ``hyperband``, the multi-objective
``nsga2`` and ``rea-mo`` (``objectives=``; ``res.front``), and ``darts``
(differentiable search, registered by :mod:`archscore.oneshot.strategies`). See :func:`search`
for the budget, repeats, failures, constraints (:mod:`archscore.search.constraints`:
``constraints=["hw:latency<=5ms", "params<=1.5M"]``), early stopping and resuming.
"""

from archscore.search.base import (
    STRATEGIES,
    Evaluation,
    Proposal,
    Strategy,
    get_strategy,
    list_strategies,
    register_strategy,
)
from archscore.search.constraints import Constraint, parse_constraint
from archscore.search.context import SearchContext, neighbours
from archscore.search.evaluators import (
    EVALUATORS,
    EstimatorEvaluator,
    Evaluator,
    FunctionEvaluator,
    TabularEvaluator,
    TrainingEvaluator,
    check_one_at_a_time,
    get_evaluator,
)
from archscore.search.pool import Pool, load_scores
from archscore.search.run import BestQuery, SearchResult, search

__all__ = [
    "STRATEGIES", "EVALUATORS", "BestQuery", "Constraint", "parse_constraint", "Evaluation", "Evaluator", "EstimatorEvaluator", "FunctionEvaluator", "Pool",
    "Proposal", "SearchContext", "SearchResult", "Strategy", "TabularEvaluator", "TrainingEvaluator", "check_one_at_a_time", "get_evaluator",
    "get_strategy", "list_strategies", "load_scores", "neighbours", "register_strategy", "search",
]
