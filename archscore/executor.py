"""Executors: run one picklable task over many items on local worker processes or a Dask cluster.

Both executors have the same shape, :meth:`run` ``(task, items)`` -> an
iterator of :class:`Outcome` in completion order, so the caller stays the
single writer (it stores each outcome before asking for the next one)::

    with LocalExecutor(workers=2, timeout=60) as ex:
        for out in ex.run(task, [(key, payload), ...]):
            store.put(...)          # one transaction per outcome

A *task* is a picklable callable ``task(payload) -> result``; when it has a
``setup()`` method, each worker calls it once before its first item (load
libraries, set thread counts). An exception inside the task is an outcome
with ``error`` set, never the end of the run.

:class:`LocalExecutor` keeps its own worker processes (one pipe each) so that
it can enforce a hard per-item time limit (the worker is killed and replaced)
and retry the item of a worker that died (``kill -9``, segfault, the kernel's
OOM killer) on a fresh worker; an item that kills ``max_retries + 1`` workers
is reported failed. :class:`DaskExecutor` submits to a ``distributed``
scheduler (``tcp://HOST:PORT`` or a ``LocalCluster`` it starts); the scheduler
reschedules the items of lost workers and gives work to workers that join.
"""

from __future__ import annotations

import collections
import logging
import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.connection import wait
from typing import Any, Callable, Hashable, Iterable, Iterator, NamedTuple, Sequence

logger = logging.getLogger(__name__)

__all__ = ["DaskExecutor", "LocalExecutor", "Outcome", "make_executor"]


class Outcome(NamedTuple):
    """What became of one item: ``result`` when it succeeded, else ``error`` (one line)."""

    key: Hashable
    result: Any
    error: str | None
    seconds: float
    attempts: int


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _call(task: Any, payload: Any) -> tuple[Any, str | None, float]:
    t0 = time.perf_counter()
    try:
        return task(payload), None, time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - one bad item must not sink the run: reported as its outcome
        return None, _describe(exc), time.perf_counter() - t0


def _worker_main(conn: Any, task: Any) -> None:
    """Loop of one local worker: receive ``(key, payload)``, send back ``(key, result, error, seconds)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    setup = getattr(task, "setup", None)
    if setup is not None:
        setup()
    parent = os.getppid()
    while True:
        try:
            # a worker outlives a killed parent only until it notices (its pipe may stay open in sibling workers)
            while not conn.poll(1.0):
                if os.getppid() != parent:
                    return
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        key, payload = msg
        result, error, seconds = _call(task, payload)
        conn.send((key, result, error, seconds))


class _Worker:
    def __init__(self, ctx: Any, task: Any) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child, task), daemon=True)
        self.proc.start()
        child.close()
        self.item: tuple[Hashable, Any] | None = None
        self.started = 0.0

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()


class LocalExecutor:
    """Worker processes on this machine.

    Parameters
    ----------
    workers : int, optional
        Number of processes (default: the CPUs this process may use).
    timeout : float, optional
        Hard limit in seconds per item: the worker is killed and the item reported failed.
    max_retries : int, default=2
        Times an item is retried after its worker died.
    start_method : str, optional
        ``multiprocessing`` start method (default ``fork`` where available: no re-import per worker).
    """

    def __init__(self, workers: int | None = None, *, timeout: float | None = None, max_retries: int = 2,
                 start_method: str | None = None) -> None:
        n = workers if workers is not None else len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        if n is None or int(n) < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        self.workers = int(n)
        self.timeout = timeout
        self.max_retries = int(max_retries)
        method = start_method or ("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        self._ctx = multiprocessing.get_context(method)
        self._stopping = False
        self._keep = False
        self._pool: list[_Worker] = []
        self._pool_task: Any = None
        self.description = f"{self.workers} local worker process{'es' if self.workers > 1 else ''}"

    def stop(self) -> None:
        """Ask :meth:`run` to end after the outcome being handled (running items are abandoned, not reported)."""
        self._stopping = True

    def open(self) -> None:
        """Keep the worker processes between :meth:`run` calls with the same task until :meth:`close`.

        A search calls ``run`` once per batch: its workers then start (and
        run the task's ``setup()``) once, not once per batch.
        """
        self._keep = True

    def close(self) -> None:
        """Stop the workers kept by :meth:`open`."""
        self._keep = False
        pool, self._pool, self._pool_task = self._pool, [], None
        _shutdown(pool)

    def run(self, task: Any, items: Iterable[tuple[Hashable, Any]]) -> Iterator[Outcome]:
        """Yield one :class:`Outcome` per ``(key, payload)`` item, in completion order."""
        queue = collections.deque(items)
        attempts: dict[Hashable, int] = collections.Counter()
        if self._keep and self._pool and self._pool_task is task:
            pool = self._pool
        else:
            _shutdown(self._pool)
            n = self.workers if self._keep else min(self.workers, max(len(queue), 1))
            pool = [_Worker(self._ctx, task) for _ in range(n)]
            self._pool, self._pool_task = [], None
        try:
            while not self._stopping:
                for i, w in enumerate(pool):
                    if w.item is None and queue:
                        w.item, w.started = queue.popleft(), time.monotonic()
                        try:
                            w.conn.send(w.item)
                        except (OSError, ValueError):  # died while idle: its sentinel tells below
                            pass
                busy = [w for w in pool if w.item is not None]
                if not busy:
                    return
                wait_s = 1.0
                if self.timeout is not None:
                    wait_s = max(0.01, min(wait_s, min(w.started + self.timeout for w in busy) - time.monotonic()))
                ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=wait_s))
                for i, w in enumerate(pool):
                    if w.item is None:
                        continue
                    key = w.item[0]
                    if w.conn in ready:
                        try:
                            rkey, result, error, seconds = w.conn.recv()
                        except (EOFError, OSError):
                            pass  # died while sending: handled as a death below
                        else:
                            w.item = None
                            yield Outcome(rkey, result, error, seconds, attempts[rkey] + 1)
                            if self._stopping:
                                return
                            continue
                    if w.conn in ready or w.proc.sentinel in ready:
                        w.proc.join(1)
                        code = w.proc.exitcode
                        item, w.item = w.item, None
                        pool[i] = _Worker(self._ctx, task)
                        attempts[key] += 1
                        cause = f"worker died (exit code {code})"
                        if attempts[key] > self.max_retries:
                            yield Outcome(key, None, f"{cause} on {attempts[key]} tries", 0.0, attempts[key])
                        else:
                            logger.warning("%s while computing %s; retrying it (try %d)", cause, key, attempts[key] + 1)
                            queue.appendleft(item)
                    elif self.timeout is not None and time.monotonic() - w.started > self.timeout:
                        w.kill()
                        w.item = None
                        pool[i] = _Worker(self._ctx, task)
                        yield Outcome(key, None, f"TimeoutError: exceeded the time limit of {self.timeout:g} s",
                                      self.timeout, attempts[key] + 1)
        finally:
            if self._keep:  # idle workers wait for the next run; a busy one's item was abandoned: replace it
                for i, w in enumerate(pool):
                    if w.item is not None or not w.proc.is_alive():
                        w.kill()
                        pool[i] = _Worker(self._ctx, task)
                self._pool, self._pool_task = pool, task
            else:
                _shutdown(pool)

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        self.close()


def _shutdown(pool: list[_Worker]) -> None:
    """Ask idle workers to exit, wait briefly, kill what is left (a busy worker's item is abandoned)."""
    for w in pool:
        if w.item is None and w.proc.is_alive():
            try:
                w.conn.send(None)
            except (OSError, ValueError):
                pass
    for w in pool:
        if w.item is None:
            w.proc.join(2)
        w.kill()


# distributed's nanny starts every worker process with MALLOC_TRIM_THRESHOLD_=65536 (its
# ``distributed.nanny.pre-spawn-environ``, to hand freed memory back to the OS). Setting any
# trim threshold also switches off glibc's dynamic mmap threshold, so every buffer over
# 128 KiB (most activations and gradients of a network) is a fresh mmap, zero-filled page by
# page, and unmapped when freed: 5.7x the page faults and twice the time per NB201 cell of a
# local worker process. ``None`` leaves the variable out of the worker's environment, as for
# :class:`LocalExecutor`'s workers (which stay flat in memory without it). Workers started
# outside (``dask worker``) take it from their own configuration: see docs/scaling-store.md.
_LOCAL_WORKER_CONFIG: dict[str, Any] = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def _dask_call(task: Any, payload: Any, timeout: float | None) -> tuple[Any, str | None, float]:
    """Run on a Dask worker: per-worker ``setup()`` once, then the item; errors come back as text."""
    if getattr(task, "setup", None) is not None and not getattr(task, "_archscore_ready", False):
        task.setup()
        task._archscore_ready = True
    result, error, seconds = _call(task, payload)
    if error is None and timeout is not None and seconds > timeout:
        # a Dask task runs in a worker thread and cannot be interrupted: the limit is checked afterwards
        return None, f"TimeoutError: took {seconds:.1f} s, over the time limit of {timeout:g} s", seconds
    return result, error, seconds


class DaskExecutor:
    """Items as tasks on a Dask ``distributed`` cluster (optional extra ``archscore[distributed]``).

    Parameters
    ----------
    address : str, optional
        Scheduler address, e.g. ``tcp://10.0.0.5:8786``.
    local_workers : int, optional
        Start a ``LocalCluster`` with this many single-threaded worker processes instead.
    timeout : float, optional
        Per-item limit, checked when the item returns (a running Dask task cannot be interrupted).
    max_retries : int, default=2
        Extra tries of an item whose worker died (Dask reschedules it elsewhere).
    window : int, default=4
        Items in flight per worker; bounds memory for any list length and lets joining workers get work.
    """

    def __init__(self, address: str | None = None, *, local_workers: int | None = None, timeout: float | None = None,
                 max_retries: int = 2, window: int = 4) -> None:
        if (address is None) == (local_workers is None):
            raise ValueError("DaskExecutor needs exactly one of address= and local_workers=")
        if local_workers is not None and local_workers < 1:
            raise ValueError(f"--dask-local must be >= 1, got {local_workers}")
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ValueError("the Dask executor needs the optional extra: pip install 'archscore[distributed]'") from None
        self.address, self.local_workers, self.timeout = address, local_workers, timeout
        self.max_retries, self.window = int(max_retries), int(window)
        self._stopping = False
        self._session: tuple[Any, Any] | None = None
        self._scattered: tuple[Any, Any] | None = None
        self.description = (f"Dask scheduler {address}" if address else f"Dask LocalCluster of {local_workers} workers")

    def stop(self) -> None:
        self._stopping = True

    def open(self) -> None:
        """Connect (or start the ``LocalCluster``) now and keep it for every :meth:`run` until :meth:`close`.

        Without it each :meth:`run` connects and disconnects (starts and stops
        its cluster); a search calls ``run`` once per batch, so it opens first.
        """
        if self._session is None:
            self._session = self._connect()

    def close(self) -> None:
        """Disconnect (and stop the cluster) opened by :meth:`open`."""
        session, self._session = self._session, None
        self._scattered = None
        if session is not None:
            self._disconnect(*session)

    def _connect(self) -> tuple[Any, Any]:
        import dask
        from distributed import Client, LocalCluster

        with dask.config.set(self._config()):
            cluster = None
            if self.local_workers is not None:
                cluster = LocalCluster(n_workers=self.local_workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
                return Client(cluster), cluster
            try:
                return Client(self.address, timeout="30s"), None
            except (OSError, TimeoutError) as exc:
                raise OSError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None

    @staticmethod
    def _disconnect(client: Any, cluster: Any) -> None:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def _config(self) -> dict[str, Any]:
        return {"distributed.scheduler.allowed-failures": self.max_retries, "distributed.worker.daemon": False,
                **_LOCAL_WORKER_CONFIG}

    def run(self, task: Any, items: Iterable[tuple[Hashable, Any]]) -> Iterator[Outcome]:
        import dask
        from distributed import as_completed

        queue = collections.deque(items)
        session = self._session
        with dask.config.set(self._config()):
            client, cluster = session if session is not None else (None, None)
            try:
                if session is None:
                    client, cluster = self._connect()
                if session is not None and self._scattered is not None and self._scattered[0] is task:
                    remote_task = self._scattered[1]  # one copy per session: a re-scatter of the same data shares its
                else:                                 # key, and releasing the old future would cancel the new tasks
                    remote_task = client.scatter(task, broadcast=True)
                    if session is not None:
                        self._scattered = (task, remote_task)
                keys: dict[Any, Hashable] = {}
                done = as_completed()

                def fill() -> None:
                    n = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {}))) * self.window
                    while queue and done.count() < n:
                        key, payload = queue.popleft()
                        fut = client.submit(_dask_call, remote_task, payload, self.timeout, pure=False)
                        keys[fut] = key
                        done.add(fut)

                fill()
                while done.count() and not self._stopping:
                    fut = next(done)
                    key = keys.pop(fut)
                    if fut.status == "finished":
                        result, error, seconds = fut.result()
                    else:
                        try:
                            fut.result()
                            error = "unknown failure"
                        except Exception as exc:  # noqa: BLE001 - KilledWorker and friends: this item failed
                            error = _describe(exc)
                        result, seconds = None, 0.0
                    fut.release()
                    yield Outcome(key, result, error, seconds, 1)
                    if not self._stopping:
                        fill()
                for fut in list(keys):
                    fut.cancel()
            finally:
                if session is None:
                    self._disconnect(client, cluster)

    def __enter__(self) -> "DaskExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        self.close()


def make_executor(*, workers: int | None = None, dask_local: int | None = None, dask_scheduler: str | None = None,
                  timeout: float | None = None, max_retries: int = 2) -> LocalExecutor | DaskExecutor:
    """The executor the command-line options ask for (at most one of ``dask_local`` and ``dask_scheduler``)."""
    if dask_local is not None and dask_scheduler is not None:
        raise ValueError("--dask-local and --dask-scheduler exclude each other")
    if dask_scheduler is not None:
        return DaskExecutor(dask_scheduler, timeout=timeout, max_retries=max_retries)
    if dask_local is not None:
        return DaskExecutor(local_workers=dask_local, timeout=timeout, max_retries=max_retries)
    return LocalExecutor(workers, timeout=timeout, max_retries=max_retries)
