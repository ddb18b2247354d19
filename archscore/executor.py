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
        self.description = f"{self.workers} local worker process{'es' if self.workers > 1 else ''}"

    def stop(self) -> None:
        """Ask :meth:`run` to end after the outcome being handled (running items are abandoned, not reported)."""
        self._stopping = True

    def run(self, task: Any, items: Iterable[tuple[Hashable, Any]]) -> Iterator[Outcome]:
        """Yield one :class:`Outcome` per ``(key, payload)`` item, in completion order."""
        queue = collections.deque(items)
        attempts: dict[Hashable, int] = collections.Counter()
        pool = [_Worker(self._ctx, task) for _ in range(min(self.workers, max(len(queue), 1)))]
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
            for w in pool:
                if w.item is None and w.proc.is_alive():
                    try:
                        w.conn.send(None)
                    except (OSError, ValueError):
                        pass
            for w in pool:
                if w.item is not None:
                    w.kill()  # abandoned (stop or error): its item was not reported, a rerun computes it
                else:
                    w.proc.join(2)
                    w.kill()

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


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
        self.description = (f"Dask scheduler {address}" if address else f"Dask LocalCluster of {local_workers} workers")

    def stop(self) -> None:
        self._stopping = True

    def run(self, task: Any, items: Iterable[tuple[Hashable, Any]]) -> Iterator[Outcome]:
        import dask
        from distributed import Client, LocalCluster, as_completed

        queue = collections.deque(items)
        cluster = client = None
        with dask.config.set({"distributed.scheduler.allowed-failures": self.max_retries,
                              "distributed.worker.daemon": False}):
            try:
                if self.local_workers is not None:
                    cluster = LocalCluster(n_workers=self.local_workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.ERROR)
                    client = Client(cluster)
                else:
                    try:
                        client = Client(self.address, timeout="30s")
                    except (OSError, TimeoutError) as exc:
                        raise OSError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
                remote_task = client.scatter(task, broadcast=True)
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
                if client is not None:
                    client.close()
                if cluster is not None:
                    cluster.close()

    def __enter__(self) -> "DaskExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


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
