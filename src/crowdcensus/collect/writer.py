"""Group commit: one writer thread stores responses in batches, one fsync per batch.

With ``synchronous=FULL`` every SQLite commit waits for the disk (a few
milliseconds here), so one commit per response caps a server at a few hundred
responses per second. Instead, request handlers hand their row to this thread
and wait; the thread takes every row that is waiting (up to ``max_batch``),
writes them in one transaction, commits, and only then wakes each handler
with its completion code. A response is still acknowledged only after the
commit that holds it, so a ``kill -9`` loses only unacknowledged ones.

Idempotence is kept: ``INSERT ... ON CONFLICT DO NOTHING`` on the (wave,
worker) key, and a worker who already answered gets the stored code.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future

from sqlalchemy import Engine

from crowdcensus.collect.identity import new_completion_code
from crowdcensus.collect.models import responses

log = logging.getLogger("crowdcensus.collect")
_STOP = object()


class ResponseWriter:
    """A thread that commits queued responses in batches.

    Parameters
    ----------
    engine : Engine
        Where to write.
    max_batch : int
        Largest number of responses in one transaction.
    """

    def __init__(self, engine: Engine, max_batch: int = 256):
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, row: dict) -> Future:
        """Queue a response row; the future gives ``(completion_code, newly_stored)``."""
        self._ensure_started()
        future: Future = Future()
        self._queue.put((row, future))
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Finish the queued work and stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="response-writer",
                                                    daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list) -> None:
        try:
            results = self._commit(batch)
        except Exception as exc:  # nothing of this batch was acknowledged
            log.error("could not store %d responses: %s", len(batch), type(exc).__name__)
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)

    def _prepare(self) -> None:
        # Plain driver statements, built once: SQLAlchemy's per-row statement
        # compilation would hold the GIL longer than the request handlers do.
        dialect = self.engine.dialect
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        cols = [c for c in responses.columns if c.name != "id"]
        self._columns = [c.name for c in cols]
        self._processors = [c.type.bind_processor(dialect) for c in cols]
        self._insert_sql = (
            f"INSERT INTO responses ({', '.join(self._columns)}) "
            f"VALUES ({', '.join([mark] * len(cols))}) ON CONFLICT DO NOTHING")
        self._select_sql = (f"SELECT completion_code FROM responses "
                            f"WHERE wave_id = {mark} AND worker_hash = {mark}")

    def _params(self, row: dict) -> tuple:
        return tuple(proc(row[name]) if proc else row[name]
                     for name, proc in zip(self._columns, self._processors, strict=True))

    def _commit(self, batch: list) -> list[tuple[str, bool]]:
        if not hasattr(self, "_insert_sql"):
            self._prepare()
        results: list[tuple[str, bool]] = []
        with self.engine.begin() as conn:
            cursor = conn.connection.cursor()
            try:
                for row, _ in batch:
                    results.append(self._store_one(cursor, row))
            finally:
                cursor.close()
        return results

    def _store_one(self, cursor, row: dict) -> tuple[str, bool]:
        for _attempt in range(5):
            code = new_completion_code()
            cursor.execute(self._insert_sql, self._params({**row, "completion_code": code}))
            if cursor.rowcount == 1:
                return code, True
            cursor.execute(self._select_sql, (row["wave_id"], row["worker_hash"]))
            found = cursor.fetchone()
            if found is not None:
                return found[0], False
            # else: the random code collided with another response's; draw again
        raise RuntimeError("no free completion code after 5 draws")
