"""A small, generic name -> object registry with metadata and helpful errors.

Spaces, estimators, proxies and encodings each keep one :class:`Registry`. The
pattern follows timm's model registry: objects register themselves with a
decorator, ``list(pattern)`` filters names with shell-style wildcards, and an
unknown name raises a ``KeyError`` that lists the closest known names.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator


@dataclass(frozen=True)
class Entry:
    """One registered object and its declared metadata."""

    name: str
    obj: Any
    metadata: dict[str, Any] = field(default_factory=dict)


class Registry:
    """Maps names to objects, with metadata and close-match suggestions.

    Parameters
    ----------
    kind : str
        What the registry holds ("estimator", "proxy"...), used in messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, obj: Any = None, *, overwrite: bool = False, **metadata: Any):
        """Register ``obj`` under ``name``; usable as a decorator when ``obj`` is None."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")

        def _add(target: Any) -> Any:
            if name in self._entries and not overwrite:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = Entry(name, target, dict(metadata))
            return target

        if obj is None:
            return _add
        return _add(obj)

    def entry(self, name: str) -> Entry:
        """Return the :class:`Entry` for ``name`` or raise a helpful ``KeyError``."""
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(self._unknown_message(name)) from None

    def get(self, name: str) -> Any:
        """Return the object registered under ``name``."""
        return self.entry(name).obj

    def metadata(self, name: str) -> dict[str, Any]:
        """Return a copy of the metadata declared for ``name``."""
        return dict(self.entry(name).metadata)

    def list(self, pattern: str = "*") -> list[str]:
        """Sorted names matching the shell-style ``pattern`` (``"grad*"``, ``"zc:*"``)."""
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def _unknown_message(self, name: Any) -> str:
        known = sorted(self._entries)
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


Factory = Callable[..., Any]
