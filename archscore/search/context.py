"""What a strategy sees of the run: space, seeded generator, allowed architectures, history, warm start.

The moves over the space (sampling, mutation, neighbourhoods) live here as
functions of the space's public methods (``sample``, ``mutate``,
``from_string``, ``to_string``), confined to the evaluator's architectures
when it has a finite set (a table).
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np

from archscore.arch import INPUT_OP, OUTPUT_OP, Arch
from archscore.search.base import Evaluation
from archscore.spaces import SearchSpace

#: Redraws of a mutation that left the allowed set before falling back to a random allowed architecture.
MUTATION_TRIES = 50


def op_nodes(arch: Arch) -> list:
    """The nodes of ``arch`` that carry a choosable op (all but input and output), in topological order."""
    g = arch.graph
    return [n for n in arch.topological_order if g.nodes[n]["op"] not in (INPUT_OP, OUTPUT_OP)]


def with_ops(arch: Arch, changes: dict) -> Arch:
    """A copy of ``arch`` with the ops of some nodes replaced (``{node: op}``)."""
    g = nx.DiGraph(arch.graph)
    for node, op in changes.items():
        g.nodes[node]["op"] = op
    return Arch(g, arch.space)


def neighbours(space: SearchSpace, arch: Arch) -> list[Arch]:
    """Every architecture one op change away from ``arch`` (the wiring kept), in a fixed order.

    Children the space cannot write as a string (invalid in that space) are left out.
    """
    out = []
    g = arch.graph
    for node in op_nodes(arch):
        for op in space.ops:
            if op == g.nodes[node]["op"]:
                continue
            child = with_ops(arch, {node: op})
            try:
                space.to_string(child)
            except (ValueError, TypeError):
                continue
            out.append(child)
    return out


class SearchContext:
    """The run's shared state handed to a strategy's ``start``.

    Attributes
    ----------
    space : SearchSpace
    rng : numpy.random.Generator
        The run's only source of randomness (seeded; replayed on resume).
    allowed : list of str or None
        Architecture strings the search is confined to (None: the whole space).
    warm : list of Arch
        Pool architectures best first (empty without a pool).
    fidelities : tuple of int
        The evaluator's fidelities (empty: one).
    budget : int
    objectives : dict
        ``{name: "min" | "max"}`` of a multi-objective search (empty otherwise);
        ``objective_values(string, evaluation)`` gives their values.
    score_candidates : callable or None
        ``archs -> ndarray``: ranks a list of architectures with the run's pool
        estimator in one call (higher is better, comparable only within the
        call, NaN where it has no score; :meth:`archscore.search.Pool.score`).
        None without a pool.
    """

    def __init__(self, space: SearchSpace, rng: np.random.Generator, allowed: list[str] | None, warm: list[Arch],
                 fidelities: tuple, budget: int) -> None:
        self.space = space
        self.rng = rng
        self.allowed = allowed
        self._allowed_set = set(allowed) if allowed is not None else None
        self.warm = list(warm)
        self.fidelities = tuple(fidelities)
        self.budget = budget
        #: string -> Evaluation of every architecture evaluated at full fidelity so far
        self.results: dict[str, Evaluation] = {}
        self._arch_cache: dict[str, Arch] = {}
        #: ``{name: "min" | "max"}`` of a multi-objective search (empty: maximise the value)
        self.objectives: dict[str, str] = {}
        #: strings refused by a constraint (never sampled again)
        self.refused: set[str] = set()
        #: ``(string, Evaluation) -> array`` of objective values in ``objectives``' order (None: some missing or non-finite)
        self.objective_values: Any = lambda key, ev: None
        #: ``list[Arch] -> ndarray`` ranking candidates with the run's pool estimator (None: no pool)
        self.score_candidates: Any = None

    # ------------------------------------------------------------ strings
    def key(self, arch: Arch) -> str:
        """The architecture's string in its space (identity of a query)."""
        return self.space.to_string(arch)

    def arch(self, s: str) -> Arch:
        a = self._arch_cache.get(s)
        if a is None:
            a = self._arch_cache[s] = self.space.from_string(s)
        return a

    def is_allowed(self, arch: Arch) -> bool:
        return self._allowed_set is None or self.key(arch) in self._allowed_set

    def seen(self, arch: Arch) -> bool:
        return self.key(arch) in self.results

    def n_allowed(self) -> int | None:
        if self._allowed_set is not None:
            return len(self._allowed_set)
        try:
            return len(self.space)  # type: ignore[arg-type]
        except TypeError:
            return None

    # -------------------------------------------------------------- moves
    def sample(self, n: int, exclude_seen: bool = True) -> list[Arch]:
        """``n`` distinct architectures uniformly from the allowed set (not yet evaluated when ``exclude_seen``).

        Architectures a constraint refused are never drawn.
        """
        if self.allowed is not None:
            pool = [s for s in self.allowed if not (exclude_seen and s in self.results) and s not in self.refused]
            if not pool:
                return []
            idx = self.rng.choice(len(pool), size=min(n, len(pool)), replace=False)
            return [self.arch(pool[i]) for i in idx]
        out, keys = [], set()
        for _ in range(20):
            for a in self.space.sample(max(n, 1), seed=int(self.rng.integers(2**31))):
                k = self.key(a)
                if k in keys or (exclude_seen and k in self.results) or k in self.refused:
                    continue
                keys.add(k)
                out.append(a)
                if len(out) == n:
                    return out
        return out

    def mutate(self, arch: Arch) -> Arch:
        """One random op change of ``arch`` (the space's ``mutate``), redrawn until inside the allowed set."""
        mutate = getattr(self.space, "mutate", None)
        if mutate is None:
            raise ValueError(f"space {self.space.name!r} has no mutate(arch, rng); mutation-based strategies need one")
        for _ in range(MUTATION_TRIES):
            child = mutate(arch, self.rng)
            if self.is_allowed(child):
                return child
        # a partial table may hold none of arch's neighbours: restart from a random allowed architecture
        fallback = self.sample(1, exclude_seen=False)
        return fallback[0] if fallback else arch

    def neighbours(self, arch: Arch) -> list[Arch]:
        """The allowed one-op-change neighbours of ``arch``, in a fixed order."""
        return [a for a in neighbours(self.space, arch) if self.is_allowed(a)]

    # ------------------------------------------------------------ history
    def best(self, k: int = 1) -> list[tuple[str, float]]:
        """The ``k`` best (string, value) pairs evaluated so far (failed queries excluded)."""
        ok = [(s, e.value) for s, e in self.results.items() if e.ok]
        ok.sort(key=lambda t: -t[1])
        return ok[:k]
