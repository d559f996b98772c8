"""When and where the live census is computed: in a helper process, never in a request.

Fitting a dozen models, profiling an interval and drawing four figures takes
from a fraction of a second to a few seconds of CPU, and Python runs one
thread at a time: done in the server process it would stall the event loop
and the response writer. So :class:`CensusRunner` runs each computation in a
helper process (``python -m crowdcensus.collect.census``, at the lowest
priority: ``nice 19`` and Linux's batch scheduling) that opens its own
connection, computes the census and stores it
(:func:`crowdcensus.collect.census.run_census`). The job is given on the
helper's standard input, so the database URL never shows in the
process list. A request only queues work (``POST .../census``, answered 202
at once) or reads the last stored census.

The census of a study is recomputed

* on demand (the API or the admin page's button), and
* when one of its waves closes: at its closing time, and again when the
  two-hour grace for late submissions is over. A scheduler task looks every
  :data:`CHECK_SECONDS` for such moments that passed since the study's last
  census.

At most one computation per study runs at a time, and at most
:data:`MAX_HELPERS` helpers at once; a helper that runs longer than
:data:`HELPER_TIMEOUT` seconds is stopped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
from datetime import timedelta

from sqlalchemy import Engine, func, select

from crowdcensus.collect.models import census_snapshots, waves
from crowdcensus.collect.store import aware

log = logging.getLogger("crowdcensus.collect")
CHECK_SECONDS = 30.0
LATE_SUBMISSIONS = timedelta(hours=2)  # = views.worker.CLOSING_GRACE
MAX_HELPERS = 2
HELPER_TIMEOUT = 600.0


class CensusRunner:
    """Start census computations in helper processes; find studies whose waves closed.

    Parameters
    ----------
    db_url : str
        The database the helper process opens.
    clock : object
        The service's clock (``now()``): the census is computed "as of" its time.
    """

    def __init__(self, db_url: str, clock, check_every: float | None = CHECK_SECONDS) -> None:
        self.db_url = db_url
        self.clock = clock
        #: Seconds between the scheduler's checks; None pauses them (tests call tick()).
        self.check_every = check_every
        self._running: dict[int, subprocess.Popen] = {}
        self._queued: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._closed = False

    def request(self, study_id: int, reason: str) -> bool:
        """Start (or queue) a census of ``study_id``; False when one is already on its way."""
        with self._lock:
            if self._closed or self._busy(study_id):
                return False
            if len([p for p in self._running.values() if p.poll() is None]) >= MAX_HELPERS:
                self._queued.append((study_id, reason))
                return True
            self._start(study_id, reason)
        return True

    def _busy(self, study_id: int) -> bool:
        proc = self._running.get(study_id)
        return (proc is not None and proc.poll() is None) or any(
            sid == study_id for sid, _ in self._queued)

    def _start(self, study_id: int, reason: str) -> None:
        job = json.dumps({"db_url": self.db_url, "study_id": study_id, "reason": reason,
                          "now": self.clock.now().isoformat()})
        proc = subprocess.Popen([sys.executable, "-m", "crowdcensus.collect.census"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        self._running[study_id] = proc
        threading.Thread(target=self._watch, args=(study_id, proc, job), daemon=True,
                         name=f"census-{study_id}").start()

    def _watch(self, study_id: int, proc: subprocess.Popen, job: str) -> None:
        try:
            _, err = proc.communicate(job, timeout=HELPER_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            err = f"stopped after {HELPER_TIMEOUT:g} s"
        if proc.returncode:
            lines = [x for x in (err or "").strip().splitlines() if x.strip()]
            log.error("census of study %d failed: %s", study_id,
                      lines[-1] if lines else f"exit {proc.returncode}")
        with self._lock:
            if self._queued and not self._closed:
                self._start(*self._queued.pop(0))

    def computing(self, study_id: int) -> bool:
        """Whether a census of ``study_id`` is queued or running."""
        with self._lock:
            return self._busy(study_id)

    def wait(self, study_id: int, timeout: float | None = None) -> None:
        """Block until the census of ``study_id`` (if any) is done (for tests)."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.computing(study_id):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"the census of study {study_id} is still running")
            time.sleep(0.05)

    def due(self, engine: Engine) -> list[tuple[int, str]]:
        """Studies with a wave that closed (or whose late-submission grace ended) since
        their last census, with the reason."""
        now = self.clock.now()
        last = (select(census_snapshots.c.study_id,
                       func.max(census_snapshots.c.computed_at).label("at"))
                .group_by(census_snapshots.c.study_id).subquery())
        query = (select(waves.c.study_id, waves.c.label, waves.c.closes_at, last.c.at)
                 .outerjoin(last, last.c.study_id == waves.c.study_id)
                 .where(waves.c.closes_at.is_not(None), waves.c.closes_at <= now))
        found: dict[int, str] = {}
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        for study_id, label, closes_at, at in rows:
            closes = aware(closes_at)
            since = aware(at) if at is not None else None
            for moment, what in ((closes + LATE_SUBMISSIONS, "final"), (closes, "closed")):
                if moment <= now and (since is None or moment > since):
                    found.setdefault(study_id, f"wave {label} {what}")
                    break
        return sorted(found.items())

    def tick(self, engine: Engine) -> list[int]:
        """Queue the census of every study that is due; return their ids."""
        queued = []
        for study_id, reason in self.due(engine):
            if self.request(study_id, reason):
                queued.append(study_id)
        return queued

    async def loop(self, engine: Engine) -> None:
        """Run :meth:`tick` every :attr:`check_every` seconds (a task of the app's lifespan)."""
        from starlette.concurrency import run_in_threadpool

        while True:
            await asyncio.sleep(self.check_every or CHECK_SECONDS)
            if self.check_every is None:
                continue
            try:
                await run_in_threadpool(self.tick, engine)
            except Exception as exc:  # keep the scheduler alive whatever happens
                log.error("census scheduler: %s", type(exc).__name__)

    def close(self) -> None:
        """Stop the helpers (a running computation is abandoned; the last census stays)."""
        with self._lock:
            self._closed = True
            self._queued.clear()
            running = list(self._running.values())
        for proc in running:
            if proc.poll() is None:
                proc.terminate()
