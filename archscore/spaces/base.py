"""The search-space interface: vocabulary, string format, sampler, model builder."""

from __future__ import annotations

from typing import Any, Iterator

import networkx as nx
import numpy as np

from archscore.arch import INPUT_OP, OUTPUT_OP, Arch


class SearchSpace:
    """Base class of search spaces.

    A space knows its op vocabulary, converts between its benchmark's string
    format and :class:`~archscore.arch.Arch`, samples architectures and builds
    untrained PyTorch models from them. It keeps no global state: two spaces
    made with different keyword options (e.g. a narrower NB201 for tests) can
    live side by side.
    """

    #: Registered name of the space.
    name: str = ""
    #: The op vocabulary (excluding the ``input`` and ``output`` markers).
    ops: tuple[str, ...] = ()

    def from_string(self, s: str) -> Arch:
        """Parse the benchmark's string format into an :class:`Arch`."""
        raise NotImplementedError

    def to_string(self, arch: Arch) -> str:
        """Format ``arch`` in the benchmark's string format."""
        raise NotImplementedError

    def sample(self, n: int, seed: int | None = 0) -> list[Arch]:
        """``n`` architectures drawn uniformly at random (deterministic for a seed)."""
        raise NotImplementedError

    def enumerate(self) -> Iterator[Arch]:
        """Every architecture of a finite space, each exactly once."""
        raise NotImplementedError(f"space {self.name!r} is not finite or cannot be enumerated")

    def build(self, arch: Arch, num_classes: int = 10) -> Any:
        """An untrained ``torch.nn.Module`` for ``arch`` (PyTorch default init)."""
        raise NotImplementedError(f"space {self.name!r} cannot build models")

    def example_input(self, batch: int = 2, generator: Any = None) -> Any:
        """A random input for :meth:`build`'s networks: ``batch`` 32x32 RGB images (spaces of other inputs override)."""
        import torch

        return torch.randn(batch, 3, 32, 32, generator=generator)

    def mutate(self, arch: Arch, rng: np.random.Generator | int | None = None) -> Arch:
        """A copy of ``arch`` with one op node changed to a different op of the vocabulary.

        The wiring is kept, so the child stays in spaces where any op may sit
        on any op node (NB201, NAS-Bench-Graph). Spaces with constraints
        override this.
        """
        self.check_arch(arch)
        rng = np.random.default_rng(rng)
        g = arch.graph
        nodes = [n for n in arch.topological_order if g.nodes[n]["op"] not in (INPUT_OP, OUTPUT_OP)]
        if not nodes or len(self.ops) < 2:
            raise ValueError(f"space {self.name!r}: nothing to mutate in {arch!r}")
        node = nodes[int(rng.integers(len(nodes)))]
        choices = [op for op in self.ops if op != g.nodes[node]["op"]]
        child = nx.DiGraph(g)
        child.nodes[node]["op"] = choices[int(rng.integers(len(choices)))]
        return Arch(child, self.name)

    def is_connected(self, arch: Arch) -> bool:
        """True when a path from input to output avoids every zero op."""
        self.check_arch(arch)
        return arch.is_connected()

    # ------------------------------------------------------------- helpers
    def check_arch(self, arch: Arch) -> None:
        """Raise a ``ValueError`` unless ``arch`` belongs to this space."""
        if not isinstance(arch, Arch):
            raise TypeError(f"expected an archscore.Arch, got {type(arch).__name__}")
        if arch.space != self.name:
            raise ValueError(f"architecture belongs to space {arch.space!r}, not {self.name!r}")

    @staticmethod
    def _check_num_classes(num_classes: int) -> int:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
        return int(num_classes)

    @staticmethod
    def _check_sample_size(n: int, size: int | None = None) -> int:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"sample size n must be a non-negative integer, got {n!r}")
        if size is not None and n > size:
            raise ValueError(f"cannot sample {n} distinct architectures from a space of {size}")
        return int(n)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
