"""The registered search strategies: ``random``, ``rea``, ``local``, ``bananas``, ``reinforce``, ``hyperband``, ``sh``.

Every strategy draws randomness only from ``ctx.rng`` (the run's seeded
generator) and reads the warm-start pool from ``ctx.warm`` (best first), so a
run is a deterministic function of its seed and of the evaluations it sees.
Failed or early-stopped queries count as the worst value when a strategy
compares architectures.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from typing import Any

import numpy as np

from archscore.arch import Arch
from archscore.base import Estimator, create_estimator
from archscore.search.base import Evaluation, Proposal, Strategy, register_strategy
from archscore.search.context import op_nodes, with_ops

logger = logging.getLogger(__name__)


def _score(e: Evaluation) -> float:
    return e.value if e.ok else -math.inf


def _check_int(name: str, v: Any, low: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    return int(v)


class _WarmStart:
    """Helper: the next not-yet-evaluated architectures, pool first, then uniform samples."""

    @staticmethod
    def next_new(ctx: Any, n: int, taken: set[str]) -> list[Arch]:
        out: list[Arch] = []
        for a in ctx.warm:
            if len(out) == n:
                return out
            k = ctx.key(a)
            if k not in taken and not ctx.seen(a):
                out.append(a)
                taken.add(k)
        tries = 0
        while len(out) < n and tries < 5:
            tries += 1
            for a in ctx.sample(n - len(out)):
                k = ctx.key(a)
                if k not in taken:
                    out.append(a)
                    taken.add(k)
        return out


# --------------------------------------------------------------------------- random
@register_strategy("random", description="random search: pool top first (if any), then uniform without repetition")
class RandomSearch(Strategy):
    """Random search; with a pool, the pool's architectures are queried first, best first.

    Parameters
    ----------
    batch_size : int, default=1
    """

    name = "random"

    def __init__(self, batch_size: int = 1) -> None:
        self.batch_size = batch_size

    def start(self, ctx):
        super().start(ctx)
        self._bs = _check_int("batch_size", self.batch_size)
        self._taken: set[str] = set()

    def ask(self):
        return [Proposal(a) for a in _WarmStart.next_new(self.ctx, self._bs, self._taken)]


# --------------------------------------------------------------------------- regularized evolution
@register_strategy("rea", description="regularized evolution (Real et al. 2019): tournament, mutate, age out the oldest")
class RegularizedEvolution(Strategy):
    """Regularized evolution (Real, Aggarwal, Huang & Le, AAAI 2019).

    A population of ``population_size`` architectures (the pool's top, else
    uniform samples) evolves: each step draws ``tournament_size`` members,
    mutates the best one (one op changed, inside the evaluator's
    architectures) and the child replaces the oldest member.

    Parameters
    ----------
    population_size : int, default=20
    tournament_size : int, default=5
    batch_size : int, default=1
        Children proposed per step (each from its own tournament).
    """

    name = "rea"
    needs_mutate = True

    def __init__(self, population_size: int = 20, tournament_size: int = 5, batch_size: int = 1) -> None:
        self.population_size = population_size
        self.tournament_size = tournament_size
        self.batch_size = batch_size

    def start(self, ctx):
        super().start(ctx)
        p = _check_int("population_size", self.population_size)
        t = _check_int("tournament_size", self.tournament_size)
        if t > p:
            raise ValueError(f"need tournament_size <= population_size, got {t} and {p}")
        self._bs = _check_int("batch_size", self.batch_size)
        self._init = _WarmStart.next_new(ctx, p, set())
        self._population: deque[tuple[Arch, float]] = deque()

    def ask(self):
        if self._init:
            batch, self._init = self._init[: self._bs], self._init[self._bs:]
            return [Proposal(a, info={"phase": "init"}) for a in batch]
        if not self._population:
            return []
        out = []
        for _ in range(self._bs):
            idx = self.ctx.rng.choice(len(self._population), size=min(self.tournament_size, len(self._population)), replace=False)
            parent = max((self._population[i] for i in idx), key=lambda m: m[1])[0]
            out.append(Proposal(self.ctx.mutate(parent), info={"phase": "mutate", "parent": self.ctx.key(parent)}))
        return out

    def tell(self, proposals, results):
        for p, e in zip(proposals, results):
            self._population.append((p.arch, _score(e)))
            if len(self._population) > self.population_size:
                self._population.popleft()


# --------------------------------------------------------------------------- local search
@register_strategy("local", description="local search (White et al. 2021): query one-op neighbours, move to a better one, restart at a local optimum; with a pool, neighbours in the pool estimator's order, first improvement")
class LocalSearch(Strategy):
    """Local search as in White, Nolen, Zela & Hutter, "Local search is state of the art for NAS benchmarks" (2021).

    Start from the best of ``n_init`` architectures (the pool's top, else
    uniform); query the current architecture's one-op-change neighbours;
    move to a better neighbour, and at a local optimum (no neighbour
    better) restart from a new architecture (the pool's next, else uniform).

    Without a pool this is the paper's algorithm: neighbours in a random
    order, the whole neighbourhood queried, then a move to the best one
    ("best improvement"). With a pool (``order="auto"``), the neighbours are
    first ranked in one call by the pool's estimator
    (:attr:`SearchContext.score_candidates`, e.g. ``zc:ensemble``'s proxies
    computed for the neighbours) and queried best first, skipping those
    already evaluated, moving at the first neighbour that beats the current
    architecture ("first improvement"), so the proxies decide which
    neighbours are trained at all. This variant is archscore's, not the
    paper's.

    Parameters
    ----------
    n_init : int, default=10
    batch_size : int, default=1
        With first improvement, a move happens after the batch holding the first better neighbour (to the batch's best).
    order : {"auto", "random", "scored"}, default="auto"
        Neighbour order: random (the paper), or ranked by the pool's
        estimator ("scored", needs a pool); "auto": scored with a pool, else random.
    improvement : {"auto", "best", "first"}, default="auto"
        "best": query the whole neighbourhood, then move to its best; "first":
        move at the first better neighbour. "auto": first when neighbours are scored, else best.
    restart : {"new", "best"}, default="new"
        At a local optimum: "new" queries a new architecture (the pool's next,
        else uniform; the paper restarts from a random one); "best" continues
        from the best architecture already evaluated that still has
        neighbours not evaluated (no query spent; "new" when there is none),
        e.g. one whose neighbourhood a first improvement cut short.
    """

    name = "local"
    needs_mutate = True

    def __init__(self, n_init: int = 10, batch_size: int = 1, order: str = "auto", improvement: str = "auto",
                 restart: str = "new") -> None:
        self.n_init = n_init
        self.batch_size = batch_size
        self.order = order
        self.improvement = improvement
        self.restart = restart

    def start(self, ctx):
        super().start(ctx)
        self._bs = _check_int("batch_size", self.batch_size)
        if self.order not in ("auto", "random", "scored"):
            raise ValueError(f"order must be 'auto', 'random' or 'scored', got {self.order!r}")
        if self.improvement not in ("auto", "best", "first"):
            raise ValueError(f"improvement must be 'auto', 'best' or 'first', got {self.improvement!r}")
        if self.order == "scored" and ctx.score_candidates is None:
            raise ValueError("local search with order='scored' ranks neighbours with the pool's estimator: "
                             "give search(..., pool=Pool(...)) or use order='random'")
        self._scored = self.order == "scored" or (self.order == "auto" and ctx.score_candidates is not None)
        if self.restart not in ("new", "best"):
            raise ValueError(f"restart must be 'new' or 'best', got {self.restart!r}")
        self._first = self.improvement == "first" or (self.improvement == "auto" and self._scored)
        self._best_restart = self.restart == "best"
        self._queue: list[Arch] = _WarmStart.next_new(ctx, _check_int("n_init", self.n_init), set())
        self._group: list[Arch] = list(self._queue)  # the initial design / neighbourhood / restart being evaluated
        self._current: tuple[Arch, float] | None = None
        self._phase = "init"

    def ask(self):
        if not self._queue:
            self._advance()
        batch, self._queue = self._queue[: self._bs], self._queue[self._bs:]
        return [Proposal(a, info={"phase": self._phase}) for a in batch]

    def tell(self, proposals, results):
        # first improvement: a neighbour better than the current architecture ends the neighbourhood
        if self._first and self._phase == "neighbours" and any(_score(e) > self._current[1] for e in results):
            self._queue = []

    def _advance(self) -> None:
        """The last group is done (fully evaluated, or cut at a first improvement): move, or restart."""
        ctx = self.ctx
        scored = [(a, _score(ctx.results[ctx.key(a)])) for a in self._group if ctx.seen(a)]
        best = max(scored, key=lambda t: t[1]) if scored else None
        if self._phase in ("init", "restart"):
            self._current = best if best is not None and best[1] > -math.inf else None
        elif best is not None and best[1] > self._current[1]:
            self._current = best
        else:
            logger.debug("local search: local optimum at %.4g, restarting", self._current[1])
            self._current = None
        nbrs = self._neighbourhood(self._current)
        if not nbrs and self._best_restart:  # continue from the best architecture with neighbours left to try
            self._current = self._best_unexhausted()
            nbrs = self._neighbourhood(self._current)
        if not nbrs:  # a local optimum (or nothing usable): restart from a new architecture
            self._phase = "restart"
            self._queue = _WarmStart.next_new(ctx, 1, set())
        else:
            self._phase = "neighbours"
            if self._scored:
                s = np.asarray(ctx.score_candidates(nbrs), dtype=float)
                # best first; NaN (no score) last; ties keep the fixed neighbour order
                self._queue = [nbrs[i] for i in np.lexsort((-np.nan_to_num(s, nan=-np.inf), np.isnan(s)))]
            else:
                self._queue = [nbrs[i] for i in ctx.rng.permutation(len(nbrs))]
        self._group = list(self._queue)

    def _neighbourhood(self, current: tuple[Arch, float] | None) -> list[Arch]:
        """The neighbours to query around ``current``; archscore's scored variant skips those already evaluated."""
        if current is None:
            return []
        nbrs = self.ctx.neighbours(current[0])
        return [a for a in nbrs if self._fresh(a)] if self._scored else nbrs

    def _fresh(self, arch: Arch) -> bool:
        key = self.ctx.key(arch)
        return key not in self.ctx.results and key not in self.ctx.refused

    def _best_unexhausted(self) -> tuple[Arch, float] | None:
        """The best successful evaluation with a neighbour not evaluated yet (ties: the earliest), or None."""
        ok = sorted(((k, e.value) for k, e in self.ctx.results.items() if e.ok), key=lambda t: -t[1])
        for key, value in ok:
            arch = self.ctx.arch(key)
            if any(self._fresh(a) for a in self.ctx.neighbours(arch)):
                return arch, value
        return None


# --------------------------------------------------------------------------- BANANAS
ACQUISITIONS = ("its", "ucb", "ei")


def default_surrogate(seed: int = 0) -> Estimator:
    """BANANAS's default surrogate: a Gaussian process on ``graph_features``.

    ``gp`` (Matern 5/2 on the standardised GRAF-style graph features, kernel
    hyperparameters by marginal likelihood) gives a predictive
    std from the first few labels, which the acquisition function needs.
    Deviation from the paper: BANANAS's own surrogate is an ensemble of
    five MLPs on the path encoding (``surrogate="mlp_ensemble"``); the GP
    is the classic Bayesian-optimisation surrogate, cheaper to refit after
    every query, and found better at 25 to 100 queries (see the search
    results pages). The former default, a random forest on the path
    encoding, is ``create_estimator("rf", encoding="path",
    target_transform="log_error", n_estimators=100)``.
    """
    return create_estimator("gp", encoding="graph_features", seed=seed)


@register_strategy("bananas", description="BANANAS (White et al. 2021): surrogate with uncertainty refitted as labels arrive, ITS/UCB/EI over mutations of the best")
class Bananas(Strategy):
    """BANANAS (White, Neiswanger & Savani, AAAI 2021), with any archscore surrogate.

    After an initial design of ``n_init`` architectures (the pool's top, else
    uniform), each step refits the surrogate on every label so far, builds
    ``n_candidates`` candidates by mutating the ``n_parents`` best
    architectures (with ``neighbourhood``, first every unqueried one-op change
    of them, then random 1 to ``max_mutations`` op changes; plus the pool's
    best not yet queried when there is a pool), and queries the candidates
    that maximise the acquisition function.

    Parameters
    ----------
    surrogate : str, Estimator or None
        A registered estimator name or instance; None is :func:`default_surrogate`.
        Surrogates without ``return_std`` are bagged: ``n_ensemble`` copies with
        different ``seed`` give the mean and spread.
    acquisition : {"its", "ucb", "ei"}, default="its"
        Independent Thompson sampling (BANANAS's default), upper confidence
        bound ``mean + ucb_beta * std``, or expected improvement over the best prediction.
    n_init : int, default=5
        Initial architectures (the pool's top, else uniform) before the first
        surrogate fit. The paper uses 10; a GP surrogate needs fewer, and 5
        leaves more of a small budget to the acquisition function.
    n_candidates : int, default=100
    n_parents : int, default=2
    max_mutations : int, default=2
    batch_size : int or "auto", default="auto"
        Architectures queried per surrogate fit; "auto" is
        ``min(10, max(1, n_labels // 20))`` (one fit per query early on, fewer later).
    ucb_beta : float, default=0.5
    n_ensemble : int, default=3
    neighbourhood : bool, default=True
        Put the parents' whole one-op neighbourhood among the candidates (the
        mutation-based candidate set then always holds the best local moves;
        False: random mutations only, as in the paper's code).
    """

    name = "bananas"
    needs_mutate = True

    def __init__(self, surrogate: Any = None, acquisition: str = "its", n_init: int = 5, n_candidates: int = 100, n_parents: int = 2,
                 max_mutations: int = 2, batch_size: Any = "auto", ucb_beta: float = 0.5, n_ensemble: int = 3,
                 neighbourhood: bool = True) -> None:
        self.surrogate = surrogate
        self.acquisition = acquisition
        self.n_init = n_init
        self.n_candidates = n_candidates
        self.n_parents = n_parents
        self.max_mutations = max_mutations
        self.batch_size = batch_size
        self.ucb_beta = ucb_beta
        self.n_ensemble = n_ensemble
        self.neighbourhood = neighbourhood

    def params(self):
        out = super().params()
        out["surrogate"] = self.surrogate if isinstance(self.surrogate, (str, type(None))) else repr(self.surrogate)
        return out

    def start(self, ctx):
        super().start(ctx)
        if self.acquisition not in ACQUISITIONS:
            from archscore.registry import unknown_choice_error

            raise unknown_choice_error("acquisition function", self.acquisition, ACQUISITIONS)
        self._init = _WarmStart.next_new(ctx, _check_int("n_init", self.n_init), set())
        _check_int("n_candidates", self.n_candidates)
        _check_int("n_parents", self.n_parents)
        _check_int("max_mutations", self.max_mutations)
        if self.batch_size != "auto":
            _check_int("batch_size", self.batch_size)
        self._fit_seconds = 0.0
        self._n_fits = 0

    def _models(self) -> list[Estimator]:
        from sklearn.base import clone

        if self.surrogate is None:
            return [default_surrogate()]
        base = create_estimator(self.surrogate) if isinstance(self.surrogate, str) else clone(self.surrogate)
        if base.get_tags().output.supports_std:
            return [base]
        models = []
        for i in range(_check_int("n_ensemble", self.n_ensemble)):
            m = clone(base)
            if "seed" in m.get_params():
                m.set_params(seed=i)
            models.append(m)
        return models

    def _predict(self, train: list[Arch], y: np.ndarray, cands: list[Arch]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import time

        t0 = time.perf_counter()
        models = self._models()
        for m in models:
            m.fit(train, y)
        if len(models) == 1:
            mean, std = models[0].predict(cands + train, return_std=True)
        else:
            preds = np.stack([m.predict(cands + train) for m in models])
            mean, std = preds.mean(axis=0), preds.std(axis=0)
        self._fit_seconds += time.perf_counter() - t0
        self._n_fits += 1
        n = len(cands)
        return mean[:n], std[:n], mean[n:]

    def _candidates(self) -> list[Arch]:
        ctx = self.ctx
        parents = [ctx.arch(s) for s, _ in ctx.best(self.n_parents)]
        out: dict[str, Arch] = {}
        if self.neighbourhood:  # every one-op change of the parents first (unseen ones), then random mutations
            for p in parents:
                for child in ctx.neighbours(p):
                    k = ctx.key(child)
                    if k not in out and not ctx.seen(child) and len(out) < self.n_candidates:
                        out[k] = child
        if parents and len(out) < self.n_candidates:
            per = max(1, (self.n_candidates - len(out)) // len(parents))
            start = len(out)
            for p in parents:
                for _ in range(per * 3):
                    if len(out) - start >= per * (parents.index(p) + 1):
                        break
                    child = p
                    for _ in range(int(ctx.rng.integers(1, self.max_mutations + 1))):
                        child = ctx.mutate(child)
                    k = ctx.key(child)
                    if k not in out and not ctx.seen(child):
                        out[k] = child
        extra = 0
        for a in ctx.warm:  # the pool's best not yet queried compete with the mutations
            if extra >= self.n_candidates:
                break
            k = ctx.key(a)
            if k not in out and not ctx.seen(a):
                out[k] = a
                extra += 1
        if not out:
            out = {ctx.key(a): a for a in ctx.sample(self.n_candidates)}
        return list(out.values())

    def ask(self):
        if self._init:
            batch, self._init = self._init[:1], self._init[1:]
            return [Proposal(a, info={"phase": "init"}) for a in batch]
        ctx = self.ctx
        done = [(s, e) for s, e in ctx.results.items() if e.ok]
        if len(done) < 2:
            return [Proposal(a, info={"phase": "init"}) for a in ctx.sample(1)]
        train = [ctx.arch(s) for s, _ in done]
        y = np.array([e.value for _, e in done], dtype=float)
        cands = self._candidates()
        mean, std, train_mean = self._predict(train, y, cands)
        if self.acquisition == "its":
            acq = mean + std * ctx.rng.standard_normal(len(cands))
        elif self.acquisition == "ucb":
            acq = mean + float(self.ucb_beta) * std
        else:
            from scipy.stats import norm

            best = float(np.max(train_mean))
            s = np.maximum(std, 1e-12)
            z = (mean - best) / s
            acq = (mean - best) * norm.cdf(z) + s * norm.pdf(z)
        bs = min(10, max(1, len(done) // 20)) if self.batch_size == "auto" else int(self.batch_size)
        order = np.argsort(-acq, kind="stable")[:bs]
        return [Proposal(cands[i], info={"phase": "acquire", "acq": float(acq[i]), "pred": float(mean[i]), "pred_std": float(std[i])})
                for i in order]


# --------------------------------------------------------------------------- REINFORCE
@register_strategy("reinforce", description="REINFORCE with a factorised categorical policy and a moving-average baseline (NAS-Bench-201's baseline); algorithm='ppo' for PPO's clipped objective")
class Reinforce(Strategy):
    """REINFORCE (Williams 1992) as the NAS-Bench-201 paper's RL baseline, or PPO (Schulman et al. 2017).

    The policy is a factorised categorical distribution: one softmax over the
    space's ops per op node of the architecture template (the wiring of the
    first sampled architecture; exact for cell spaces such as NB201). Each
    sample's reward is its value; the advantage is the reward minus an
    exponential moving average of past rewards (``ema_momentum``), and the
    policy's logits take Adam steps of learning rate ``lr``. With a pool, the
    first ``n_init`` queries are the pool's top (told to the policy like samples).

    ``algorithm="reinforce"``: one policy-gradient step per batch,
    ``A * grad log pi(arch)``. ``algorithm="ppo"``: Proximal Policy
    Optimization's clipped surrogate objective, ``mean(min(r A, clip(r, 1 -
    clip, 1 + clip) A))`` with ``r = pi(arch) / pi_old(arch)`` (``pi_old``: the
    policy that sampled the batch), maximised by ``ppo_epochs`` Adam steps
    over each batch; a sample whose ratio has left the clip range in the
    direction of its advantage stops contributing. The first step is exactly
    REINFORCE's (``r = 1``), so ``ppo_epochs=1`` is REINFORCE. PPO reuses each
    batch for several steps, so give it ``batch_size`` > 1.

    Parameters
    ----------
    lr : float, default=0.01
    ema_momentum : float, default=0.9
    n_init : int, default=0
        Pool architectures queried first (0: none).
    batch_size : int, default=1
    algorithm : {"reinforce", "ppo"}, default="reinforce"
    clip : float, default=0.2
        PPO's clip range epsilon.
    ppo_epochs : int, default=4
        PPO's optimisation steps per batch.
    """

    name = "reinforce"
    ALGORITHMS = ("reinforce", "ppo")

    def __init__(self, lr: float = 0.01, ema_momentum: float = 0.9, n_init: int = 0, batch_size: int = 1,
                 algorithm: str = "reinforce", clip: float = 0.2, ppo_epochs: int = 4) -> None:
        self.lr = lr
        self.ema_momentum = ema_momentum
        self.n_init = n_init
        self.batch_size = batch_size
        self.algorithm = algorithm
        self.clip = clip
        self.ppo_epochs = ppo_epochs

    def params(self):
        out = super().params()
        if self.algorithm == "reinforce":  # histories written before PPO existed recorded only these
            for k in ("algorithm", "clip", "ppo_epochs"):
                out.pop(k, None)
        return out

    def start(self, ctx):
        super().start(ctx)
        if not 0 <= float(self.ema_momentum) < 1:
            raise ValueError(f"ema_momentum must be in [0, 1), got {self.ema_momentum!r}")
        if self.algorithm not in self.ALGORITHMS:
            from archscore.registry import unknown_choice_error

            raise unknown_choice_error("reinforce algorithm", self.algorithm, self.ALGORITHMS)
        if isinstance(self.clip, bool) or not isinstance(self.clip, (int, float)) or not 0 < float(self.clip) < 1:
            raise ValueError(f"clip must be in (0, 1), got {self.clip!r}")
        self._epochs = _check_int("ppo_epochs", self.ppo_epochs) if self.algorithm == "ppo" else 1
        self._bs = _check_int("batch_size", self.batch_size)
        template = ctx.sample(1, exclude_seen=False)
        if not template:
            raise ValueError("reinforce: the space gave no architecture to take the template from")
        self._template = template[0]
        self._nodes = op_nodes(self._template)
        self._ops = list(ctx.space.ops)
        self._theta = np.zeros((len(self._nodes), len(self._ops)))
        self._m = np.zeros_like(self._theta)
        self._v = np.zeros_like(self._theta)
        self._t = 0
        self._baseline: float | None = None
        n_init = _check_int("n_init", self.n_init, 0)
        self._init = [a for a in ctx.warm if not ctx.seen(a)][:n_init]

    def _probs(self) -> np.ndarray:
        z = self._theta - self._theta.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def _sample_one(self) -> Arch:
        ctx = self.ctx
        p = self._probs()
        for _ in range(50):
            choice = [int(ctx.rng.choice(len(self._ops), p=p[i])) for i in range(len(self._nodes))]
            arch = with_ops(self._template, {n: self._ops[c] for n, c in zip(self._nodes, choice)})
            if ctx.is_allowed(arch):
                return arch
        return ctx.sample(1, exclude_seen=False)[0]

    def ask(self):
        if self._init:
            batch, self._init = self._init[: self._bs], self._init[self._bs:]
            return [Proposal(a, info={"phase": "init"}) for a in batch]
        return [Proposal(self._sample_one(), info={"phase": "policy"}) for _ in range(self._bs)]

    def tell(self, proposals, results):
        choices, advantages = [], []
        for prop, e in zip(proposals, results):
            if not e.ok:
                continue
            arch = prop.arch
            try:
                ops = [arch.graph.nodes[node]["op"] for node in self._nodes]
                idx = [self._ops.index(o) for o in ops]
            except (KeyError, ValueError):
                continue  # not expressible by the template (e.g. a pool architecture with other wiring)
            r = float(e.value)
            if self._baseline is None:
                self._baseline = r
            advantages.append(r - self._baseline)
            self._baseline = self.ema_momentum * self._baseline + (1 - self.ema_momentum) * r
            choices.append(idx)
        if not choices:
            return
        rows = np.arange(len(self._nodes))
        idx = np.asarray(choices)  # (n, nodes)
        adv = np.asarray(advantages)
        onehot = np.zeros((len(idx),) + self._theta.shape)
        for k, c in enumerate(idx):
            onehot[k, rows, c] = 1.0
        old_logp = np.log(self._probs()[rows, idx]).sum(axis=1)  # the policy that sampled the batch
        for _ in range(self._epochs):
            p = self._probs()
            ratio = np.exp(np.log(p[rows, idx]).sum(axis=1) - old_logp)
            # d/dtheta of min(r A, clip(r) A): r A grad log pi while the unclipped term is the minimum, else 0
            active = np.where(adv >= 0, ratio < 1 + self.clip, ratio > 1 - self.clip) if self.algorithm == "ppo" else np.ones(len(adv), bool)
            weight = adv * ratio * active
            grad = np.zeros_like(self._theta)
            for k in range(len(idx)):  # summed in sample order: REINFORCE's step is bit-identical to the one-loop form
                grad += weight[k] * (onehot[k] - p)
            self._adam(grad / len(idx))

    def _adam(self, g: np.ndarray) -> None:
        """One Adam ascent step on the objective whose gradient is ``g``."""
        b1, b2, eps = 0.9, 0.999, 1e-8
        self._t += 1
        self._m = b1 * self._m + (1 - b1) * g
        self._v = b2 * self._v + (1 - b2) * g * g
        mhat = self._m / (1 - b1**self._t)
        vhat = self._v / (1 - b2**self._t)
        self._theta += float(self.lr) * mhat / (np.sqrt(vhat) + eps)


# --------------------------------------------------------------------------- successive halving / Hyperband
class _MultiFidelity(Strategy):
    budget_aware = True

    def start(self, ctx):
        super().start(ctx)
        if len(ctx.fidelities) < 2:
            raise ValueError(f"{self.name} needs an evaluator with at least two fidelities (e.g. TabularEvaluator(..., "
                             "fidelities={12: 'valid_acc_12ep', 200: 'valid_acc_200ep'})); this one has "
                             f"{list(ctx.fidelities) or 'only one'}")
        if not float(self.eta) > 1:
            raise ValueError(f"eta must be > 1, got {self.eta!r}")
        self._queue: list[Proposal] = []
        self._rungs: list[dict] = []

    def _bracket(self, s: int) -> None:
        """Start a bracket whose first rung is fidelity index ``K - s`` (``s`` promotions to the full fidelity)."""
        K = len(self.ctx.fidelities) - 1
        n = int(math.ceil((K + 1) / (s + 1) * self.eta**s)) if self._hyperband else int(math.ceil(self.eta**s * self.n_final))
        archs = _WarmStart.next_new(self.ctx, n, set())
        self._rung_start(archs, K - s)

    def _rung_start(self, archs: list[Arch], level: int) -> None:
        f = self.ctx.fidelities[level]
        full = level == len(self.ctx.fidelities) - 1
        self._current = {"level": level, "archs": archs, "results": {}}
        self._queue = [Proposal(a, fidelity=None if full else f, info={"rung": level}) for a in archs]

    def ask(self):
        if not self._queue:
            self._next()
        batch, self._queue = self._queue[:1], self._queue[1:]
        return batch

    def tell(self, proposals, results):
        for p, e in zip(proposals, results):
            ok = not e.error and math.isfinite(e.value)
            self._current["results"][self.ctx.key(p.arch)] = e.value if ok else -math.inf

    def _next(self) -> None:
        cur = getattr(self, "_current", None)
        K = len(self.ctx.fidelities) - 1
        if cur is not None and cur["level"] < K and cur["results"]:
            ranked = sorted(cur["archs"], key=lambda a: -cur["results"].get(self.ctx.key(a), -math.inf))
            keep = max(1, int(len(ranked) // self.eta))
            self._rung_start(ranked[:keep], cur["level"] + 1)
            return
        self._s = (getattr(self, "_s", -1) + 1)
        self._bracket(self._bracket_s(self._s))


@register_strategy("sh", description="successive halving over the evaluator's fidelities (keep the top 1/eta at each rung)")
class SuccessiveHalving(_MultiFidelity):
    """Successive halving (Jamieson & Talwalkar 2016) over the evaluator's fidelities.

    Each bracket evaluates ``n_final * eta**K`` new architectures at the lowest
    fidelity and promotes the best ``1/eta`` to the next fidelity, up to the
    full one (``K + 1`` fidelities). A query at fidelity ``f`` counts as
    ``f / f_max`` of a query toward the budget (full-training equivalents).

    Parameters
    ----------
    eta : float, default=3
    n_final : int, default=1
    """

    name = "sh"

    def __init__(self, eta: float = 3, n_final: int = 1) -> None:
        self.eta = eta
        self.n_final = n_final

    _hyperband = False

    def _bracket_s(self, i: int) -> int:
        return len(self.ctx.fidelities) - 1


@register_strategy("hyperband", description="Hyperband (Li et al. 2018): successive-halving brackets from aggressive to none")
class Hyperband(_MultiFidelity):
    """Hyperband (Li, Jamieson, DeSalvo, Rostamizadeh & Talwalkar, JMLR 2018) over the evaluator's fidelities.

    Brackets cycle from the most aggressive (start at the lowest fidelity with
    ``ceil((K+1)/(K+1) * eta**K)`` architectures) to plain full-fidelity
    evaluation of ``K + 1`` architectures. Query costs count as in :class:`SuccessiveHalving`.

    Parameters
    ----------
    eta : float, default=3
    """

    name = "hyperband"
    _hyperband = True

    def __init__(self, eta: float = 3) -> None:
        self.eta = eta

    def _bracket_s(self, i: int) -> int:
        K = len(self.ctx.fidelities) - 1
        return K - (i % (K + 1))
