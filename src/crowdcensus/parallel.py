"""One way to run independent tasks: inline, in local processes, or on a Dask cluster.

Both the bootstrap (:mod:`crowdcensus.capture.mse.bootstrap`) and validation
(:mod:`crowdcensus.simulate.validation`) hand their tasks to a :class:`Runner`.
Local processes and Dask go through the same :class:`concurrent.futures.Executor`
interface (a :class:`~concurrent.futures.ProcessPoolExecutor`, or the executor of
a :class:`distributed.Client`), so there is one code path for both.

Results come back in the order the tasks were given, whatever order they finish
in; with tasks that derive their randomness from their own arguments (a
:class:`numpy.random.SeedSequence` child per task), the results are therefore the
same inline, in processes and on a cluster.

>>> from operator import add
>>> with Runner(workers=1) as run:
...     run.map(add, [(1, 2), (3, 4)])
[3, 7]
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from crowdcensus.errors import InputError, WorkerDiedError

#: ``progress(done, total)``, called after every finished task.
Progress = Callable[[int, int], None]
#: ``on_result(i, result)``, called in this process as task ``i`` finishes.
OnResult = Callable[[int, Any], None]


def default_workers() -> int:
    """Worker processes used by default: the CPUs available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def dask_client(address: str, timeout: float = 20.0) -> Any:
    """A :class:`distributed.Client` connected to ``address``, or a one-line InputError."""
    from crowdcensus.extras import require_extra

    require_extra("dask", "--dask-scheduler", modules=("distributed",))
    from distributed import Client

    try:
        return Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"--dask-scheduler {address}: cannot connect ({exc})") from None


class Runner:
    """Run tasks inline (``workers=1``), in local processes, or on a Dask scheduler.

    Parameters
    ----------
    workers : int, optional
        Local worker processes (default: the CPUs available; 1 runs inline).
        Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``); needs the ``dask`` extra.

    Use it as a context manager; :meth:`map` may be called several times inside.
    """

    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        if workers is not None and workers < 1:
            raise InputError(f"--workers must be at least 1 (got {workers})")
        self.scheduler = scheduler
        self.workers = default_workers() if workers is None else workers
        self._executor: Executor | None = None
        self._client: Any = None

    def __enter__(self) -> Runner:
        if self.scheduler:
            self._client = dask_client(self.scheduler)
            self._executor = self._client.get_executor(pure=False)
        elif self.workers > 1:
            # fork is fastest; with threads running (a Dask client, a web server, or
            # JAX's thread pool once the joint model has been fitted here) forking is
            # unsafe (a child can inherit a held lock and hang), so start clean
            # interpreters instead
            forkable = threading.active_count() == 1 and "jax" not in sys.modules
            method = "fork" if forkable else "forkserver"
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context(method)
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if isinstance(self._executor, ProcessPoolExecutor):
            self._executor.shutdown(wait=True, cancel_futures=True)
        elif self._executor is not None:  # a Dask client's executor cancels on shutdown
            self._executor.shutdown(wait=True)
        self._executor = None
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def parallelism(self) -> int:
        """How many tasks run at once (a cluster's threads, or the local workers)."""
        if self._client is not None:
            return max(1, sum(self._client.nthreads().values()))
        return self.workers if self._executor is not None else 1

    def map(
        self,
        fn: Callable[..., Any],
        args: Sequence[tuple],
        progress: Progress | None = None,
        on_result: OnResult | None = None,
    ) -> list:
        """``[fn(*a) for a in args]``, run in parallel; results in the order of ``args``.

        ``fn`` and its arguments must be picklable (module-level functions) to run in
        other processes. The first exception a task raises is raised here; a worker
        process that dies (killed by the system) raises :class:`WorkerDiedError`.
        ``on_result(i, result)`` sees each result as it arrives, so that a caller can
        keep what finished before such an error.
        """
        total = len(args)
        if self._executor is None:
            out = []
            for i, a in enumerate(args):
                out.append(fn(*a))
                if on_result is not None:
                    on_result(i, out[-1])
                if progress is not None:
                    progress(len(out), total)
            return out
        futures = {self._executor.submit(fn, *a): i for i, a in enumerate(args)}
        results: list[Any] = [None] * total
        for done, fut in enumerate(as_completed(futures), start=1):
            try:
                results[futures[fut]] = fut.result()
            except BrokenProcessPool:
                raise WorkerDiedError(
                    f"a worker process died after {done - 1} of {total} tasks (killed by "
                    "the system: out of memory?); run again with fewer --workers") from None
            if on_result is not None:
                on_result(futures[fut], results[futures[fut]])
            if progress is not None:
                progress(done, total)
        return results


def chunks(n: int, n_chunks: int) -> list[range]:
    """``range(n)`` cut into at most ``n_chunks`` consecutive, near-equal, non-empty parts."""
    n_chunks = max(1, min(n, n_chunks))
    bounds = [round(i * n / n_chunks) for i in range(n_chunks + 1)]
    return [range(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
