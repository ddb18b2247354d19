"""The score store: one SQLite file holding proxy scores (and failures) keyed by everything they depend on.

::

    from archscore.store import ScoreStore
    store = ScoreStore("scores.db")                       # created if absent
    sid = store.settings_id({"space": "nb201", "batch": fp, "init_seed": 42, ...})
    store.missing(sid, cells, ["params", "synflow"])     # what is left to compute
    store.put(sid, cell, {"params": 1.0, "synflow": 2.0})
    store.frame(sid)                                      # one row per arch, one column per proxy
    store.append_history(run_sid, 0, cell, row)           # a search run's queries (archscore.search, store=)

Design (why it survives faults):

- the standard library's :mod:`sqlite3`, WAL journal, one transaction per
  :meth:`ScoreStore.put` (every proxy of one architecture at once): a kill at
  any instant leaves either the whole write or none of it;
- a row is keyed by (settings, arch, proxy, proxy params); the settings are
  a canonical JSON object (space and its options, a fingerprint of the data
  batch, seeds, batch size, archscore version, ...), so the same request is
  never computed twice and a changed setting never sees another's scores;
- ``INSERT`` never replaces a finished score (two writers on one file: the
  second write of the same key is ignored), except a recorded failure, which
  a retry may turn into a score;
- the file carries a format marker and a schema version: a store written by
  a newer archscore, a corrupt file or a foreign SQLite database raise
  :class:`StoreError` and are never written to.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from archscore.fileio import atomic_path

__all__ = ["FORMAT", "SCHEMA_VERSION", "ScoreStore", "StoreError", "fingerprint", "settings_key"]

#: Marker in the ``meta`` table telling an archscore store from any other SQLite database.
FORMAT = "archscore-score-store"
#: Version of the table layout; a file with a higher one was written by a newer archscore.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settings (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    json TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS scores (
    settings_id INTEGER NOT NULL REFERENCES settings(id),
    arch TEXT NOT NULL,
    proxy TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    value REAL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error TEXT,
    seconds REAL,
    extra TEXT,
    version TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (settings_id, arch, proxy, params)
);
"""

#: The search-history table; added to a store of schema 1 when first used (older archscore versions ignore it).
_HISTORY_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    settings_id INTEGER NOT NULL REFERENCES settings(id),
    query INTEGER NOT NULL,
    arch TEXT NOT NULL,
    row TEXT NOT NULL,
    version TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (settings_id, query)
)
"""


class StoreError(ValueError):
    """The file is not a usable score store (newer version, corrupt, foreign database, not writable)."""


def settings_key(settings: Mapping[str, Any]) -> str:
    """Canonical JSON of ``settings`` (sorted keys): equal settings give equal keys whatever their order."""
    try:
        return json.dumps(dict(settings), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"store settings must be JSON-serialisable without NaN: {exc}") from None


def fingerprint(*arrays: Any) -> str:
    """Short hash of arrays or tensors (e.g. the scoring batch) for store settings: dtype, shape and bytes."""
    import numpy as np

    h = hashlib.sha1()
    for a in arrays:
        if hasattr(a, "detach"):  # a torch tensor
            a = a.detach().cpu().numpy()
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _version() -> str:
    import archscore

    return archscore.__version__


class ScoreStore:
    """Proxy scores and failures in one SQLite file.

    Parameters
    ----------
    path : str or Path
        The store file; created (with its folder) when absent unless ``readonly``.
    readonly : bool, default=False
        Open without writing anything (``info``, ``export``, ``verify``).
    timeout : float, default=60
        Seconds a write waits for another process holding the write lock.

    Raises
    ------
    StoreError
        ``path`` is a folder, a corrupt or foreign file, a store of a newer
        schema, or cannot be created/written.
    """

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False, timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._timeout = float(timeout)
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"score store {self.path} exists but is not a file")
        if readonly and not self.path.is_file():
            raise StoreError(f"score store {self.path} not found")
        if not readonly:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder of score store {self.path}: {exc.strerror or exc}") from None
        try:
            if readonly:
                self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout,
                                             isolation_level=None)
            else:
                self._conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open score store {self.path}: {exc}") from None
        try:
            self._open()
        except BaseException:
            self._conn.close()
            raise

    # ------------------------------------------------------------------ opening
    def _open(self) -> None:
        c = self._conn
        try:
            tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a readable score store ({exc}); it is left untouched — "
                             f"move it away or pick another path") from None
        if not tables:
            if self.readonly:
                raise StoreError(f"{self.path} is an empty file, not a score store")
            self._create()
            return
        if "meta" not in tables:
            raise StoreError(f"{self.path} is an SQLite database but not an archscore score store (tables: "
                             f"{', '.join(sorted(tables))}); it is left untouched")
        meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != FORMAT:
            raise StoreError(f"{self.path} is an SQLite database but not an archscore score store; it is left untouched")
        schema = int(meta.get("schema", "0"))
        if schema > SCHEMA_VERSION:
            raise StoreError(f"score store {self.path} was written by a newer archscore ({meta.get('created_by', '?')}, "
                             f"schema {schema}; this is archscore {_version()}, schema {SCHEMA_VERSION}): upgrade "
                             f"archscore to use it; the file is left untouched")
        if not {"settings", "scores"} <= tables:
            raise StoreError(f"score store {self.path} lacks its tables (corrupt?); run `archscore store verify`")
        if not self.readonly:
            self._pragmas()

    def _pragmas(self) -> None:
        # Switching a new file to WAL needs an exclusive lock and SQLite reports "locked" at once, without
        # its busy handler, when a second process opens the same new store: retry until the timeout.
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a commit survives a killed process
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise self._write_error(exc) from None
                time.sleep(0.05)
            except sqlite3.Error as exc:
                raise self._write_error(exc) from None
        if str(mode).lower() != "wal":
            raise StoreError(f"score store {self.path}: cannot switch to WAL journal (got {mode!r})")

    def _create(self) -> None:
        self._pragmas()
        try:
            with self._transaction():
                for stmt in _SCHEMA.strip().split(";"):
                    if stmt.strip():
                        self._conn.execute(stmt)
                for k, v in (("format", FORMAT), ("schema", str(SCHEMA_VERSION)), ("created_by", f"archscore {_version()}")):
                    self._conn.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (k, v))
        except sqlite3.Error as exc:
            raise self._write_error(exc) from None

    def _write_error(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if "readonly" in text or "unable to open" in text:
            hint = "is the file or its folder read-only?"
        elif "full" in text or "disk I/O" in text:
            hint = "disk full or file-size limit reached? Nothing half-written was kept; rerun to resume"
        elif "locked" in text or "busy" in text:
            hint = "another process holds the store's write lock"
        else:
            hint = "run `archscore store verify`"
        return StoreError(f"cannot write score store {self.path}: {text} ({hint})")

    class _Txn:
        def __init__(self, store: "ScoreStore") -> None:
            self.store = store

        def __enter__(self) -> None:
            self.store._conn.execute("BEGIN IMMEDIATE")

        def __exit__(self, et, ev, tb) -> None:
            if et is None:
                self.store._conn.execute("COMMIT")
            else:
                try:
                    self.store._conn.execute("ROLLBACK")
                except sqlite3.Error:  # the failed statement may have rolled back already
                    pass

    def _transaction(self) -> "ScoreStore._Txn":
        if self.readonly:
            raise StoreError(f"score store {self.path} was opened read-only")
        return ScoreStore._Txn(self)

    # ------------------------------------------------------------------ settings
    def settings_id(self, settings: Mapping[str, Any], create: bool = True) -> int | None:
        """The id of ``settings`` in this store (registered when new and ``create``; None when absent otherwise)."""
        key = settings_key(settings)
        digest = hashlib.sha1(key.encode()).hexdigest()
        row = self._conn.execute("SELECT id FROM settings WHERE key=?", (digest,)).fetchone()
        if row is not None or not create:
            return None if row is None else int(row[0])
        try:
            with self._transaction():
                self._conn.execute("INSERT OR IGNORE INTO settings (key, json, created) VALUES (?, ?, ?)",
                                   (digest, key, time.time()))
        except sqlite3.Error as exc:
            raise self._write_error(exc) from None
        return int(self._conn.execute("SELECT id FROM settings WHERE key=?", (digest,)).fetchone()[0])

    def settings(self) -> list[dict[str, Any]]:
        """Every settings entry: ``{"id", "settings", "archs", "ok", "failed", "proxies"}``, oldest first."""
        out = []
        for sid, text in self._conn.execute("SELECT id, json FROM settings ORDER BY id").fetchall():
            counts = dict(self._conn.execute("SELECT status, COUNT(*) FROM scores WHERE settings_id=? GROUP BY status",
                                             (sid,)).fetchall())
            narch = self._conn.execute("SELECT COUNT(DISTINCT arch) FROM scores WHERE settings_id=?", (sid,)).fetchone()[0]
            queries = (self._conn.execute("SELECT COUNT(*) FROM history WHERE settings_id=?", (sid,)).fetchone()[0]
                       if self._has_history() else 0)
            out.append({"id": int(sid), "settings": json.loads(text), "archs": int(narch), "ok": int(counts.get("ok", 0)),
                        "failed": int(counts.get("failed", 0)), "proxies": self.proxies(sid), "queries": int(queries)})
        return out

    def proxies(self, sid: int) -> list[str]:
        """Proxy names stored under ``sid``, in the order first stored."""
        rows = self._conn.execute("SELECT proxy, MIN(rowid) FROM scores WHERE settings_id=? GROUP BY proxy ORDER BY 2",
                                  (sid,)).fetchall()
        return [r[0] for r in rows]

    # ------------------------------------------------------------------ reads
    def missing(self, sid: int, cells: Sequence[str], proxies: Sequence[str], *, retry_failed: bool = False,
                params: str = "{}") -> dict[str, list[str]]:
        """``{cell: [proxies still to compute]}`` for the cells of ``cells`` (order kept) lacking a result.

        A recorded failure counts as done unless ``retry_failed``.
        """
        done: dict[str, set[str]] = {}
        wanted = set(proxies)
        statuses = ("ok",) if retry_failed else ("ok", "failed")
        q = (f"SELECT arch, proxy FROM scores WHERE settings_id=? AND params=? AND status IN "
             f"({','.join('?' * len(statuses))})")
        for arch, proxy in self._conn.execute(q, (sid, params, *statuses)):
            if proxy in wanted:
                done.setdefault(arch, set()).add(proxy)
        out = {}
        for c in cells:
            left = [p for p in proxies if p not in done.get(c, ())]
            if left:
                out[c] = left
        return out

    def get(self, sid: int, cell: str, params: str = "{}") -> dict[str, dict[str, Any]]:
        """``{proxy: {"value", "status", "error", "seconds", "extra"}}`` stored for ``cell`` under ``sid``."""
        rows = self._conn.execute("SELECT proxy, value, status, error, seconds, extra FROM scores WHERE settings_id=? "
                                  "AND arch=? AND params=? ORDER BY rowid", (sid, cell, params)).fetchall()
        return {p: {"value": _value(v, s), "status": s, "error": e, "seconds": sec, "extra": json.loads(x) if x else {}}
                for p, v, s, e, sec, x in rows}

    def rows(self, sid: int | None = None) -> Iterator[tuple]:
        """Raw rows ``(settings_id, arch, proxy, params, value, status, error, seconds, extra, version, created)``."""
        q = "SELECT settings_id, arch, proxy, params, value, status, error, seconds, extra, version, created FROM scores"
        args: tuple = ()
        if sid is not None:
            q += " WHERE settings_id=?"
            args = (sid,)
        yield from self._conn.execute(q + " ORDER BY rowid", args)

    def failures(self, sid: int) -> list[tuple[str, str, str]]:
        """``(arch, proxy, error)`` of every recorded failure under ``sid``."""
        return [tuple(r) for r in self._conn.execute(
            "SELECT arch, proxy, error FROM scores WHERE settings_id=? AND status='failed' ORDER BY rowid", (sid,))]

    def frame(self, sid: int, proxies: Sequence[str] | None = None, cells: Sequence[str] | None = None):
        """A DataFrame (index ``arch``, one column per proxy; NaN for failures) of ``sid``'s scores.

        ``cells`` picks and orders the rows (absent cells are left out); by default every arch, in the order stored.
        """
        import numpy as np
        import pandas as pd

        proxies = list(proxies) if proxies is not None else self.proxies(sid)
        col = {p: i for i, p in enumerate(proxies)}
        table: dict[str, list[float]] = {}
        for arch, proxy, value, status in self._conn.execute(
                "SELECT arch, proxy, value, status FROM scores WHERE settings_id=? AND params='{}' ORDER BY rowid", (sid,)):
            if proxy not in col:
                continue
            row = table.setdefault(arch, [np.nan] * len(proxies))
            row[col[proxy]] = _value(value, status)
        order = list(table) if cells is None else [c for c in dict.fromkeys(cells) if c in table]
        return pd.DataFrame([table[c] for c in order], columns=proxies, index=pd.Index(order, name="arch"), dtype=float)

    # ------------------------------------------------------------------ writes
    def put(self, sid: int, cell: str, scores: Mapping[str, float] | None = None, *,
            errors: Mapping[str, str] | None = None, seconds: float | None = None, extra: Mapping[str, Any] | None = None,
            params: str = "{}") -> int:
        """Store one architecture's results in ONE transaction; returns the number of rows written.

        ``scores`` maps proxy -> value (a NaN value is recorded as a failure
        "evaluated to NaN"); ``errors`` maps proxy -> error text. A finished
        score is never replaced; a recorded failure is replaced by a new result.
        """
        now, version = time.time(), _version()
        ex = json.dumps(dict(extra)) if extra else None
        rows = []
        for p, v in (scores or {}).items():
            v = float(v)
            if math.isnan(v):
                rows.append((sid, cell, p, params, None, "failed", "evaluated to NaN", seconds, ex, version, now))
            else:
                rows.append((sid, cell, p, params, v, "ok", None, seconds, ex, version, now))
        for p, e in (errors or {}).items():
            rows.append((sid, cell, p, params, None, "failed", str(e) or "failed", seconds, ex, version, now))
        if not rows:
            return 0
        written = 0
        try:
            with self._transaction():
                for r in rows:
                    # a failure may be replaced (retry); a score never is, so two writers cannot clash
                    self._conn.execute("DELETE FROM scores WHERE settings_id=? AND arch=? AND proxy=? AND params=? "
                                       "AND status='failed'", r[:4])
                    cur = self._conn.execute("INSERT OR IGNORE INTO scores VALUES (?,?,?,?,?,?,?,?,?,?,?)", r)
                    written += cur.rowcount
        except sqlite3.Error as exc:
            raise self._write_error(exc) from None
        return written

    # ------------------------------------------------------------------ search histories
    def _has_history(self) -> bool:
        return self._conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='history'").fetchone() is not None

    def history(self, sid: int) -> list[dict[str, Any]]:
        """The search-history rows recorded under ``sid`` (a search run's settings), in query order."""
        if not self._has_history():
            return []
        rows = self._conn.execute("SELECT query, row FROM history WHERE settings_id=? ORDER BY query", (sid,)).fetchall()
        for i, (q, _) in enumerate(rows):
            if q != i:
                raise StoreError(f"score store {self.path}: the search history of settings {sid} lacks query {i} "
                                 f"(has {q}); run `archscore store verify`")
        return [json.loads(r) for _, r in rows]

    def append_history(self, sid: int, query: int, arch: str, row: Mapping[str, Any]) -> None:
        """Record query ``query`` of the search run ``sid`` in ONE transaction.

        The same query recorded again with the same content is a no-op; with
        another content (two processes running the same search into one
        store) it raises :class:`StoreError` and the recorded row is kept.
        """
        text = json.dumps(dict(row), sort_keys=True)
        try:
            with self._transaction():
                self._conn.execute(_HISTORY_SCHEMA)
                cur = self._conn.execute("INSERT OR IGNORE INTO history VALUES (?, ?, ?, ?, ?, ?)",
                                         (sid, int(query), arch, text, _version(), time.time()))
                if cur.rowcount == 0:
                    old = self._conn.execute("SELECT row FROM history WHERE settings_id=? AND query=?", (sid, int(query))).fetchone()[0]
                    if old != text:
                        raise StoreError(f"score store {self.path}: query {query} of search settings {sid} is already "
                                         f"recorded with another result (is another process running the same search?)")
        except sqlite3.Error as exc:
            raise self._write_error(exc) from None

    # ------------------------------------------------------------------ maintenance
    def info(self) -> dict[str, Any]:
        """Path, size, creator and per-settings counts."""
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        return {"path": str(self.path), "bytes": self.path.stat().st_size, "created_by": meta.get("created_by"),
                "schema": int(meta.get("schema", 0)), "settings": self.settings()}

    def verify(self) -> list[str]:
        """Problems found (empty when the store is sound): SQLite integrity, orphan rows, bad statuses."""
        problems = [r[0] for r in self._conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        orphans = self._conn.execute("SELECT COUNT(*) FROM scores WHERE settings_id NOT IN (SELECT id FROM settings)").fetchone()[0]
        if orphans:
            problems.append(f"{orphans} score rows whose settings are missing")
        if self._has_history():
            orphans = self._conn.execute("SELECT COUNT(*) FROM history WHERE settings_id NOT IN (SELECT id FROM settings)").fetchone()[0]
            if orphans:
                problems.append(f"{orphans} search-history rows whose settings are missing")
        bad = self._conn.execute("SELECT COUNT(*) FROM scores WHERE status='failed' AND (error IS NULL OR error='')").fetchone()[0]
        if bad:
            problems.append(f"{bad} failure rows without an error message")
        for sid, text in self._conn.execute("SELECT id, json FROM settings"):
            try:
                json.loads(text)
            except ValueError:
                problems.append(f"settings {sid} hold unreadable JSON")
        return problems

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "ScoreStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ScoreStore({str(self.path)!r})"


def _value(v: Any, status: str) -> float:
    """A stored value as a float: NaN for failures (SQLite keeps +-inf, but not NaN)."""
    return float("nan") if status != "ok" or v is None else float(v)


def pick_settings(store: ScoreStore, choice: str | None) -> int:
    """The settings id to export: the only one, or ``choice`` (an id or ``key=value`` matching exactly one).

    Raises
    ------
    ValueError
        Several settings and no ``choice``, or a choice matching none or several.
    """
    entries = store.settings()
    if not entries:
        raise ValueError(f"score store {store.path} holds no settings yet")
    if choice is None:
        if len(entries) > 1:
            listing = "; ".join(f"{e['id']}: {_brief(e['settings'])} ({e['archs']} archs)" for e in entries)
            raise ValueError(f"score store {store.path} holds {len(entries)} settings; pick one with --settings ID "
                             f"(or KEY=VALUE): {listing}")
        return entries[0]["id"]
    if choice.isdigit():
        ids = [e["id"] for e in entries if e["id"] == int(choice)]
    else:
        conds = [c.split("=", 1) for c in choice.split(",")]
        if any(len(c) != 2 for c in conds):
            raise ValueError(f"--settings must be an id or KEY=VALUE[,KEY=VALUE], got {choice!r}")
        ids = [e["id"] for e in entries if all(str(e["settings"].get(k)) == v for k, v in conds)]
    if len(ids) != 1:
        raise ValueError(f"--settings {choice!r} matches {len(ids)} of the {len(entries)} settings in {store.path}; "
                         f"see `archscore store info {store.path}`")
    return ids[0]


def _brief(settings: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items() if k != "batch")


def export(store: ScoreStore, sid: int, out: str | os.PathLike, *, proxies: Sequence[str] | None = None,
           cells: Sequence[str] | None = None) -> int:
    """Write ``sid``'s scores to ``out`` (``.csv``; ``.parquet`` needs pyarrow) atomically; returns the row count.

    The file is written beside ``out`` under a temporary name and renamed into
    place, so an interrupted export never leaves a half-written file.
    """
    out = Path(out)
    frame = store.frame(sid, proxies, cells)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ValueError(f"export format is chosen by the file's suffix: .csv or .parquet, got {out.name}")
    if out.is_dir():
        raise IsADirectoryError(f"export target {out} is a folder")
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ValueError("Parquet export needs pyarrow: pip install 'archscore[parquet]'") from None
    with atomic_path(out) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp)
        else:
            frame.to_parquet(tmp)
    return len(frame)
