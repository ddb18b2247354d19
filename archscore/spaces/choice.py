"""Declare your own search space as a product of named choices.

::

    from archscore.spaces import ChoiceSpace, register_space

    space = ChoiceSpace("my-resnets", choices={"width": [16, 32, 64], "depth": [1, 2, 3]},
                        build=lambda cfg: ResNet(cfg["width"], cfg["depth"]))
    register_space(space)            # optional: makes get_space("my-resnets") return it
    arch = space.from_string("width=32,depth=2")
    model = space.build(arch)        # your build({"width": 32, "depth": 2})

Architecture encoding
---------------------
A configuration becomes a chain-shaped :class:`~archscore.arch.Arch`:
``input -> c_1 -> c_2 -> ... -> c_k -> output`` with one node per choice, in
the declared order, whose op is ``"<choice>=<value>"`` (``"width=32"``). Every
architecture of the space has the same wiring and ``k + 2`` nodes, so the
graph encodings see exactly the configuration: ``onehot`` is a one-hot of
every choice, ``path`` a single path naming every choice, and the surrogates,
``train:`` (which calls :meth:`ChoiceSpace.build`) and the search strategies
(:meth:`ChoiceSpace.mutate` changes one choice) work unchanged.

The string format is ``"width=32,depth=2,act=gelu"``: every choice once, in
any order. Values are matched through ``str(value)``, so the values of one
choice must have distinct string forms without ``,`` or ``=``.
"""

from __future__ import annotations

import inspect
import itertools
import math
from typing import Any, Callable, Iterator, Mapping, Sequence

import networkx as nx
import numpy as np

from archscore.arch import INPUT_OP, OUTPUT_OP, Arch
from archscore.registry import unknown_choice_error
from archscore.spaces.base import SearchSpace


class UserSpace(SearchSpace):
    """A space object that stands for itself in the space registry.

    Registering an instance (``register_space(space)``) files it under its
    name; ``get_space(name)`` then returns this very object, so calling an
    instance with no options returns itself.
    """

    def __call__(self, **options: Any) -> "UserSpace":
        if options:
            raise TypeError(f"space {self.name!r} is an instance; it takes no options (got {sorted(options)})")
        return self


def _check_seed(seed: Any) -> int | None:
    """``seed`` as an int (or None); bools, floats and strings raise a ``ValueError`` instead of a numpy error."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r} ({type(seed).__name__})")
    return int(seed)


def _rng(rng: Any) -> np.random.Generator:
    """A numpy Generator from a Generator, a seed or None (seeds checked by :func:`_check_seed`)."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(_check_seed(rng))


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or ":" in name:
        raise ValueError(f"space name must be a non-empty string without ':', got {name!r}")
    return name


class ChoiceSpace(UserSpace):
    """A product of named choices with a user-supplied model builder.

    Parameters
    ----------
    name : str
        Name of the space (the ``space`` of its architectures).
    choices : mapping of str to sequence
        ``{choice: [values]}``, in the order the chain lists them. Every choice
        needs at least one value; values of one choice need distinct ``str()``
        forms containing neither ``,`` nor ``=``.
    build : callable, optional
        ``build(config) -> torch.nn.Module`` with ``config`` a dict ``{choice:
        value}``. When it accepts a ``num_classes`` argument, :meth:`build`
        passes it; otherwise the model's output size is the builder's own.
    """

    def __init__(self, name: str, choices: Mapping[str, Sequence[Any]], build: Callable[[dict], Any] | None = None) -> None:
        self.name = _check_name(name)
        if not isinstance(choices, Mapping) or not choices:
            raise ValueError(f"choices must be a non-empty mapping {{choice: [values]}}, got {choices!r}")
        table: dict[str, tuple[Any, ...]] = {}
        for key, values in choices.items():
            if not isinstance(key, str) or not key or any(c in key for c in ",="):
                raise ValueError(f"choice names must be non-empty strings without ',' or '=', got {key!r}")
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
                raise ValueError(f"choice {key!r} needs a non-empty list of values, got {values!r}")
            texts = [str(v) for v in values]
            bad = [t for t in texts if not t or any(c in t for c in ",=")]
            if bad:
                raise ValueError(f"values of choice {key!r} must print without ',' or '=' and not empty, got {bad}")
            if len(set(texts)) != len(texts):
                raise ValueError(f"values of choice {key!r} must have distinct string forms, got {texts}")
            table[key] = tuple(values)
        if build is not None and not callable(build):
            raise TypeError(f"build must be a callable build(config) -> nn.Module, got {type(build).__name__}")
        self.choices = table
        self.build_fn = build
        self.ops = tuple(f"{k}={v}" for k, vs in table.items() for v in vs)
        self._lookup = {k: {str(v): v for v in vs} for k, vs in table.items()}

    # ------------------------------------------------------------- sizes
    @property
    def size(self) -> int:
        """Number of configurations (the product of the choices' lengths)."""
        return math.prod(len(v) for v in self.choices.values())

    def __len__(self) -> int:
        return self.size

    # ------------------------------------------------------ configurations
    def from_config(self, config: Mapping[str, Any]) -> Arch:
        """The chain :class:`Arch` of ``config`` (a value for every choice)."""
        if not isinstance(config, Mapping):
            raise TypeError(f"config must be a mapping {{choice: value}}, got {type(config).__name__}")
        missing = [k for k in self.choices if k not in config]
        extra = [k for k in config if k not in self.choices]
        if missing or extra:
            raise ValueError(f"space {self.name!r}: config needs exactly the choices {list(self.choices)}; "
                             f"missing {missing}, unknown {extra}")
        g = nx.DiGraph()
        g.add_node(0, op=INPUT_OP)
        for i, key in enumerate(self.choices, start=1):
            text = str(config[key])
            if text not in self._lookup[key]:
                raise unknown_choice_error(f"value of choice {key!r}", config[key], [str(v) for v in self.choices[key]])
            g.add_node(i, op=f"{key}={text}")
            g.add_edge(i - 1, i)
        last = len(self.choices) + 1
        g.add_node(last, op=OUTPUT_OP)
        g.add_edge(last - 1, last)
        return Arch(g, self.name)

    def config(self, arch: Arch) -> dict[str, Any]:
        """``{choice: value}`` of ``arch`` (the values as declared, not their strings)."""
        self.check_arch(arch)
        g = arch.graph
        k = len(self.choices)
        if set(g.nodes) != set(range(k + 2)) or set(g.edges) != {(i, i + 1) for i in range(k + 1)}:
            raise ValueError(f"architecture is labelled {self.name!r} but is not its chain of {k} choices")
        out = {}
        for i, key in enumerate(self.choices, start=1):
            op = g.nodes[i]["op"]
            name, sep, text = op.partition("=")
            if name != key or not sep or text not in self._lookup[key]:
                raise ValueError(f"node {i} of the architecture has op {op!r}, expected '{key}=<value>'")
            out[key] = self._lookup[key][text]
        return out

    def from_string(self, s: str) -> Arch:
        """Parse ``"width=32,depth=2"`` (every choice once, any order)."""
        if not isinstance(s, str):
            raise TypeError(f"architecture string must be a str, got {type(s).__name__}")
        config: dict[str, Any] = {}
        form = ",".join(f"{k}=<value>" for k in self.choices)
        for part in s.strip().split(","):
            key, sep, text = part.strip().partition("=")
            key, text = key.strip(), text.strip()
            if not sep or not key:
                raise ValueError(f"malformed item {part!r} in {s!r}; expected {form!r}")
            if key not in self.choices:
                raise unknown_choice_error(f"choice of space {self.name!r}", key, list(self.choices))
            if key in config:
                raise ValueError(f"choice {key!r} given twice in {s!r}")
            if text not in self._lookup[key]:
                raise unknown_choice_error(f"value of choice {key!r}", text, [str(v) for v in self.choices[key]])
            config[key] = self._lookup[key][text]
        return self.from_config(config)

    def to_string(self, arch: Arch) -> str:
        """``"width=32,depth=2"`` in the declared order of the choices."""
        return ",".join(f"{k}={v}" for k, v in self.config(arch).items())

    # ----------------------------------------------------------- sampling
    def enumerate(self) -> Iterator[Arch]:
        """Every configuration, in the order of :func:`itertools.product` over the declared choices."""
        keys = list(self.choices)
        for values in itertools.product(*self.choices.values()):
            yield self.from_config(dict(zip(keys, values)))

    def from_index(self, i: int) -> Arch:
        """The ``i``-th configuration of :meth:`enumerate`."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= int(i) < self.size:
            raise ValueError(f"index must be an integer in [0, {self.size}), got {i!r}")
        i = int(i)
        values = {}
        for key in reversed(list(self.choices)):  # the last choice varies fastest
            options = self.choices[key]
            i, r = divmod(i, len(options))
            values[key] = options[r]
        return self.from_config({k: values[k] for k in self.choices})

    def sample(self, n: int, seed: int | None = 0) -> list[Arch]:
        """``n`` distinct configurations drawn uniformly without replacement."""
        n = self._check_sample_size(n, self.size)
        rng = np.random.default_rng(_check_seed(seed))
        if self.size <= 2**62:
            picks = rng.choice(self.size, size=n, replace=False) if self.size <= 10**7 else self._distinct(rng, n)
            return [self.from_index(int(i)) for i in picks]
        return [self.from_index(int(i)) for i in self._distinct(rng, n)]  # pragma: no cover - astronomically large spaces

    def _distinct(self, rng: np.random.Generator, n: int) -> list[int]:
        seen: dict[int, None] = {}
        while len(seen) < n:
            seen.setdefault(int(rng.integers(self.size)), None)
        return list(seen)

    def neighbours(self, arch: Arch) -> list[Arch]:
        """Every configuration that differs from ``arch`` in exactly one choice."""
        config = self.config(arch)
        out = []
        for key, options in self.choices.items():
            for v in options:
                if str(v) != str(config[key]):
                    out.append(self.from_config({**config, key: v}))
        return out

    def mutate(self, arch: Arch, rng: np.random.Generator | int | None = None) -> Arch:
        """``arch`` with one choice (among those with 2+ values) changed to another value, uniformly."""
        config = self.config(arch)
        rng = _rng(rng)
        keys = [k for k, v in self.choices.items() if len(v) > 1]
        if not keys:
            raise ValueError(f"space {self.name!r}: every choice has one value, nothing to mutate")
        key = keys[int(rng.integers(len(keys)))]
        others = [v for v in self.choices[key] if str(v) != str(config[key])]
        return self.from_config({**config, key: others[int(rng.integers(len(others)))]})

    # -------------------------------------------------------------- model
    def build(self, arch: Arch, num_classes: int = 10) -> Any:
        """The user's ``build(config)`` (given ``num_classes`` when it takes that argument)."""
        if self.build_fn is None:
            raise NotImplementedError(f"space {self.name!r} was declared without build=")
        config = self.config(arch)
        num_classes = self._check_num_classes(num_classes)
        try:
            params = inspect.signature(self.build_fn).parameters
        except (TypeError, ValueError):  # builtins without a signature
            params = {}
        if "num_classes" in params:
            return self.build_fn(config, num_classes=num_classes)
        return self.build_fn(config)

    def __repr__(self) -> str:
        return f"ChoiceSpace(name={self.name!r}, choices={ {k: list(v) for k, v in self.choices.items()} }, size={self.size})"


__all__ = ["ChoiceSpace", "UserSpace"]
