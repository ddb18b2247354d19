"""One-shot methods as search strategies: ``search(..., "darts")`` and ENAS-style search with a supernet.

DARTS as a strategy
-------------------
``search("nb201", "darts", TabularEvaluator(nb201_table, target="valid_acc_200ep",
report="test_acc_200ep"), budget=50, strategy_params={"data_path": ..., "fix": "darts-"})``
runs :class:`~archscore.oneshot.darts.DartsRun` one epoch per ``ask`` and
proposes that epoch's discretised cell; the evaluator says what the cell is
worth (for NB201, the table's accuracy of the found cell).

How the budget counts for a gradient method:

* one query per distinct discretised cell evaluated: each epoch proposes its
  cell; a cell equal to an earlier epoch's is served from the history (no
  query, no new row), as for every strategy;
* training the supernet is not a query (its wall time is reported in
  ``result.stats["darts_seconds"]``);
* the run ends after ``epochs`` epochs, when early stopping fires
  (``fix="early_stop"``: the stopping epoch's cell is not queried), or when
  the budget is spent, whichever comes first. ``budget >= epochs`` lets the
  search run to the end; a smaller budget cuts the search itself short.

``result.stats["darts_epochs"]`` lists every epoch (cell, skip count, training
loss, the evaluator's value and report of that cell, including epochs whose
cell repeated an earlier one), and ``result.stats["darts_arch"]`` is the cell
DARTS returns (the last epoch's, or with ``fix="early_stop"`` the last one
under the skip limit). ``result.best`` is the best-valued of the queried
cells: choosing among epochs by the evaluator's value is an oracle selection
DARTS itself does not make. A resumed run (``out=``) retrains the supernet
from the seed and replays the recorded queries without spending them.

ENAS-style search
-----------------
ENAS (Pham et al., ICML 2018) trains a controller by policy gradient on the
validation accuracy of child models that inherit a shared supernet's weights.
:func:`enas_search` runs the ``reinforce`` strategy (NAS-Bench-201's RL
baseline: a factorised categorical policy and a moving-average baseline)
against :class:`~archscore.search.EstimatorEvaluator` over a *fitted*
``oneshot:spos`` supernet: each query is one supernet evaluation of the
sampled cell (inherited weights, BatchNorm recalibration, validation batch),
never a training. Deviations from ENAS: the supernet is trained first (SPOS
uniform single-path sampling) and frozen, instead of alternating supernet
and controller updates; the controller is a factorised policy instead of an
LSTM. The recipe by hand::

    est = create_estimator("oneshot:spos", data_path=..., time_budget=600).fit()
    res = search("nb201", "reinforce", EstimatorEvaluator(est), budget=1000, seed=0)
"""

from __future__ import annotations

import logging
import math
from typing import Any

from archscore.base import Estimator
from archscore.oneshot.darts import DartsRun
from archscore.search import EstimatorEvaluator, Proposal, SearchResult, Strategy, register_strategy, search

logger = logging.getLogger(__name__)


@register_strategy("darts", description="DARTS (1st/2nd order; fixes darts-, early_stop, drnas): one query per discretised cell of each epoch")
class DartsStrategy(Strategy):
    """DARTS over the search's space, proposing each epoch's discretised cell (see the module docstring).

    The supernet is built for the search's space (it needs a supernet
    builder, e.g. NB201) with ``space_options``; its seed is drawn from the
    search's seeded generator, so the search's ``seed`` fixes the run.

    Parameters
    ----------
    order : {1, 2}, default=1
    fix : {None, "darts-", "early_stop", "drnas"}, default=None
    epochs : int, default=50
    steps_per_epoch : int, optional
    data_path : str, optional
        Images (a path or ``"digits"``); or ``data``.
    data : (inputs, targets), optional
    space_options : dict, optional
        Supernet size, e.g. ``{"C": 16, "N": 5}``.
    limit, resolution : int, optional
    valid_fraction : float, default=0.5
    skip_limit : int, default=2
    drnas_reg : float, default=1e-3
    batch_size : int, default=64
    w_lr, alpha_lr : float
    device : str, default="auto"
    num_threads : int, optional

    Notes
    -----
    The other arguments of :func:`~archscore.oneshot.darts_search` keep their defaults.
    """

    name = "darts"

    def __init__(self, order: int = 1, fix: str | None = None, epochs: int = 50, steps_per_epoch: int | None = None,
                 data_path: str | None = None, data: Any = None, space_options: dict | None = None, limit: int | None = None,
                 resolution: int | None = None, valid_fraction: float = 0.5, skip_limit: int = 2, drnas_reg: float = 1e-3,
                 batch_size: int = 64, w_lr: float = 0.025, alpha_lr: float = 3e-4, device: str = "auto",
                 num_threads: int | None = None) -> None:
        self.order = order
        self.fix = fix
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.data_path = data_path
        self.data = data
        self.space_options = space_options
        self.limit = limit
        self.resolution = resolution
        self.valid_fraction = valid_fraction
        self.skip_limit = skip_limit
        self.drnas_reg = drnas_reg
        self.batch_size = batch_size
        self.w_lr = w_lr
        self.alpha_lr = alpha_lr
        self.device = device
        self.num_threads = num_threads

    def params(self) -> dict[str, Any]:
        out = super().params()
        out["space_options"] = dict(self.space_options) if self.space_options else None
        out.pop("data", None)
        out["data_given"] = self.data is not None
        out.pop("device", None)  # where it runs does not change what a run decides
        return out

    def start(self, ctx):
        super().start(ctx)
        self._seed = int(ctx.rng.integers(2**31 - 1))
        self._run = DartsRun(ctx.space.name, data_path=self.data_path, data=self.data, space_options=self.space_options,
                             limit=self.limit, resolution=self.resolution, valid_fraction=self.valid_fraction,
                             epochs=self.epochs, steps_per_epoch=self.steps_per_epoch, order=self.order, fix=self.fix,
                             skip_limit=self.skip_limit, drnas_reg=self.drnas_reg, batch_size=self.batch_size, w_lr=self.w_lr,
                             alpha_lr=self.alpha_lr, device=self.device, num_threads=self.num_threads, seed=self._seed)
        self._trace: list[dict[str, Any]] = []

    def ask(self):
        ep = self._run.step()
        if ep is None or ep.stopped:
            if ep is not None:
                self._trace.append(self._record(ep))
            return []
        return [Proposal(ep.arch, info={"epoch": ep.epoch, "skips": ep.skip_count})]

    def _record(self, ep) -> dict[str, Any]:
        return {"epoch": ep.epoch, "arch": self.ctx.key(ep.arch), "skips": ep.skip_count, "train_loss": ep.train_loss,
                "seconds": ep.seconds, "stopped": ep.stopped, "value": math.nan, "report": math.nan, "error": ""}

    def tell(self, proposals, results):
        for p, e in zip(proposals, results):
            ep = self._run.epochs_done[int(p.info["epoch"]) - 1]
            self._trace.append({**self._record(ep), "value": float(e.value), "report": float(e.report), "error": e.error})

    def stats(self) -> dict[str, Any]:
        run = getattr(self, "_run", None)
        if run is None:
            return {}
        return {"darts_seed": self._seed, "darts_seconds": float(sum(e.seconds for e in run.epochs_done)),
                "darts_arch": self.ctx.key(run.arch) if run.arch is not None else None,
                "darts_stopped_epoch": run.result().stopped_epoch, "darts_epochs": [dict(r) for r in self._trace]}


def enas_search(supernet: Estimator, budget: int = 100, seed: int = 0, space: Any = "nb201",
                strategy_params: dict | None = None, **search_kwargs: Any) -> SearchResult:
    """ENAS-style search: the ``reinforce`` strategy with each sample scored by a fitted supernet (see the module docstring).

    Parameters
    ----------
    supernet : Estimator
        A fitted ``oneshot:spos`` estimator (any fitted estimator whose scores
        compare across calls works); it is not trained further.
    budget : int, default=100
        Queries: supernet evaluations (``result.history["cost"]`` is 1 prediction each).
    seed : int, default=0
    space : str or SearchSpace, default="nb201"
    strategy_params : dict, optional
        Parameters of ``reinforce`` (``lr``, ``ema_momentum``, ``batch_size``...).
    **search_kwargs
        Further arguments of :func:`archscore.search.search` (``out=``, ``constraints=``...).

    Returns
    -------
    SearchResult

    Raises
    ------
    ValueError
        If ``supernet`` is not fitted (a search must not train it query by query).
    """
    if not isinstance(supernet, Estimator):
        raise TypeError(f"supernet must be a fitted archscore Estimator (e.g. oneshot:spos), got {type(supernet).__name__}")
    if supernet.get_tags().requires_fit and not hasattr(supernet, "n_fit_"):
        raise ValueError(f"{type(supernet).__name__} is not fitted: train the supernet once with fit() before the search "
                         "(queries evaluate it, they never train it)")
    return search(space, "reinforce", EstimatorEvaluator(supernet), budget=budget, seed=seed,
                  strategy_params=strategy_params, **search_kwargs)


__all__ = ["DartsStrategy", "enas_search"]
