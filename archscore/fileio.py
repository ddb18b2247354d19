"""Atomic file replacement: a reader (or a resumed run) sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one ``os.replace``.

    Write the whole file to the yielded path inside the ``with`` block. If the
    block raises (or the process is killed), ``path`` is left as it was and
    the temporary file is removed (a kill may leave a hidden ``.NAME.*.tmp``
    beside it, never a half-written ``path``). The parent folder is created.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "run.json"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text(json.dumps({"seed": 0}))
    >>> json.loads(target.read_text())
    {'seed': 0}
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
