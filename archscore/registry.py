"""A small, generic name -> class registry with default parameters and helpful errors.

Spaces, estimators, proxies and encodings each keep one :class:`Registry`. The
pattern follows timm's model registry: each entry is a class (or function)
plus the default keyword parameters it is created with, registered by name;
``list(pattern)`` filters names with shell-style wildcards; an unknown name
raises :class:`UnknownNameError` listing the closest known names.

Two extensions:

* a *prefix family* maps every name ``<prefix><member>`` to one class with one
  parameter set to ``<member>`` (``zc:synflow`` -> ``ZeroCostEstimator(proxy="synflow")``),
  for members listed by a callable, so no class is synthesised per member;
* *plugins*: module names imported on the first look-up, so that a registry
  in the core is filled by the families that register into it without the
  core importing them at import time (the same idea as entry points).
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator


class UnknownNameError(KeyError, ValueError):
    """An unknown name in any registry (a ``KeyError`` and a ``ValueError``), with close matches."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Entry:
    """One registered object, the default parameters it is created with, and its metadata."""

    name: str
    obj: Any
    defaults: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def module(self) -> str:
        """The module that defines the registered object."""
        return getattr(self.obj, "__module__", "") or ""

    def create(self, **params: Any) -> Any:
        """Call the registered object with the defaults updated by ``params``."""
        return self.obj(**{**self.defaults, **params})


@dataclass(frozen=True)
class _Prefix:
    obj: Any
    param: str
    members: Callable[[], Iterable[str]]
    metadata: dict[str, Any]


class Registry:
    """Maps names to objects and default parameters, with close-match suggestions.

    Parameters
    ----------
    kind : str
        What the registry holds ("estimator", "proxy"...), used in messages.
    plugins : iterable of str, optional
        Modules imported on the first look-up or listing; they register into
        this registry when imported.
    """

    def __init__(self, kind: str, plugins: Iterable[str] = ()) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        self._prefixes: dict[str, _Prefix] = {}
        self._plugins = tuple(plugins)
        self._loaded = not self._plugins

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True  # set first: the plugins register into this registry while importing
            for module in self._plugins:
                importlib.import_module(module)

    def register(self, name: str, obj: Any = None, *, defaults: dict[str, Any] | None = None,
                 overwrite: bool = False, **metadata: Any):
        """Register ``obj`` under ``name``; usable as a decorator when ``obj`` is None.

        ``defaults`` are the keyword parameters :meth:`create` passes unless overridden.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")

        def _add(target: Any) -> Any:
            if name in self._entries and not overwrite:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = Entry(name, target, dict(defaults or {}), dict(metadata))
            return target

        if obj is None:
            return _add
        return _add(obj)

    def register_prefix(self, prefix: str, obj: Any, *, param: str, members: Callable[[], Iterable[str]], **metadata: Any) -> None:
        """Resolve every ``prefix + member`` (member in ``members()``) to ``obj(**{param: member})``.

        Names registered explicitly win over the prefix family.
        """
        self._prefixes[prefix] = _Prefix(obj, param, members, dict(metadata))

    def entry(self, name: str) -> Entry:
        """Return the :class:`Entry` for ``name`` or raise :class:`UnknownNameError`."""
        self._load()
        if isinstance(name, str):
            found = self._entries.get(name)
            if found is not None:
                return found
            for prefix, fam in self._prefixes.items():
                member = name[len(prefix):]
                if name.startswith(prefix) and member in set(fam.members()):
                    meta = {k: (v(member) if callable(v) else v) for k, v in fam.metadata.items()}
                    return Entry(name, fam.obj, {fam.param: member}, meta)
        raise UnknownNameError(self._unknown_message(name))

    def get(self, name: str) -> Any:
        """Return the object registered under ``name``."""
        return self.entry(name).obj

    def create(self, name: str, **params: Any) -> Any:
        """Create the object registered under ``name`` with its defaults updated by ``params``."""
        return self.entry(name).create(**params)

    def metadata(self, name: str) -> dict[str, Any]:
        """Return a copy of the metadata declared for ``name``."""
        return dict(self.entry(name).metadata)

    def _names(self) -> list[str]:
        self._load()
        names = set(self._entries)
        for prefix, fam in self._prefixes.items():
            names.update(prefix + m for m in fam.members())
        return sorted(names)

    def list(self, pattern: str = "*") -> list[str]:
        """Sorted names matching the shell-style ``pattern`` (``"grad*"``, ``"zc:*"``)."""
        return [n for n in self._names() if fnmatch.fnmatchcase(n, pattern)]

    def __contains__(self, name: object) -> bool:
        try:
            self.entry(name)  # type: ignore[arg-type]
        except UnknownNameError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def _unknown_message(self, name: Any) -> str:
        known = self._names()
        close = difflib.get_close_matches(str(name), known, n=5, cutoff=0.5)
        msg = f"unknown {self.kind} {name!r}"
        if close:
            msg += f"; did you mean {', '.join(repr(c) for c in close)}?"
        shown = ", ".join(known[:40]) + (", ..." if len(known) > 40 else "")
        return msg + f" Known {self.kind} names: {shown or '(none registered)'}"


def unknown_choice_error(kind: str, value: Any, choices: list[str] | tuple[str, ...]) -> ValueError:
    """A ``ValueError`` for a value outside a fixed set of choices, with close matches."""
    close = difflib.get_close_matches(str(value), list(choices), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(f"unknown {kind} {value!r}{hint} Expected one of: {', '.join(choices)}")
