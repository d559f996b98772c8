"""Benchmark of the collection service: completed questionnaires per second, latency, losses.

Starts ``crowdcensus serve`` (uvicorn) in a subprocess on 127.0.0.1 over a
fresh SQLite file (WAL, synchronous=FULL) and/or a throwaway PostgreSQL
cluster, then drives it with a bounded number of concurrent simulated
workers for a bounded number of questionnaires. Two load generators: httpx's
AsyncClient, and a lean asyncio HTTP/1.1 client (``raw``) -- httpx spends about
three times the server's CPU per request, and client and server share the
same two cores, so with httpx the figure is mostly the client's limit. Prints,
per backend, client and mode:

* ``submit``: each simulated worker sends only the final questionnaire POST
  (the one that validates, stores, commits and returns the completion code);
  tokens are prepared with the test secret, so this measures the write path.
* ``flow``: each simulated worker walks the whole flow -- landing GET (raw ID
  hashed), consent POST (questionnaire page), final submit POST.

"completed" counts final submits answered 200 with a completion code;
latency percentiles are those of the final submit (and, in flow mode, of the
whole three-request flow); "lost" is the number of acknowledged codes missing
from the database afterwards (read back through the export API).

With ``--census``, a second study of 6,000 responses in four waves over three
months (a closed and an open population, written straight into the database
before the server starts) has its live census recomputed every second during
the run: the estimation runs in the service's helper process, and the figures
show what that costs the submissions on a machine whose two cores the client
and the server already fill.

Usage::

    python benchmarks/collect.py          # sqlite + postgresql, both modes, both clients
    python benchmarks/collect.py --backend sqlite --mode submit --client raw --n 5000
    python benchmarks/collect.py --backend sqlite --mode submit --client raw --census

Everything stays on loopback; the run stops after --n questionnaires or
--max-seconds, whichever comes first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import numpy as np

from crowdcensus.collect.database import make_engine, upgrade
from crowdcensus.collect.identity import sign, worker_hash
from crowdcensus.collect.loopback import (
    ThrowawayPostgres,
    free_port,
    postgres_bindir,
    wait_for_port,
)
from crowdcensus.collect.security import CSRF_COOKIE

SECRET = "benchmark-secret-0123456789abcdef"
TOKEN = "benchmark-admin-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
ANSWERS = {"frequency": "weekly", "platforms_registered": ["mturk", "prolific"],
           "platforms_last_month": ["mturk"], "hours_per_week": "6",
           "earnings_band": "20_99", "country": "FR", "attention": "rarely"}
CODE = re.compile(r'id="code">([A-Z0-9]+)<')


def require_postgres() -> str:
    bindir = postgres_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL binaries not found (apt-get install postgresql)")
    return bindir


class HttpxClient:
    """``httpx.AsyncClient`` behind :class:`RawClient`'s two methods (``--client httpx``)."""

    def __init__(self, base: str, cookies: dict[str, str]):
        self.client = httpx.AsyncClient(
            base_url=base, timeout=30, cookies=cookies,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, str]:
        headers = {"content-type": "application/x-www-form-urlencoded"} if body else None
        response = await self.client.request(method, path, content=body or None,
                                             headers=headers)
        return response.status_code, response.text

    async def close(self) -> None:
        await self.client.aclose()


class RawClient:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams (``--client raw``).

    httpx spends about twice the server's CPU per request; on a 2-core machine
    shared by client and server that caps what can be measured. This client
    pre-encodes requests and parses only the status line, Content-Length and
    body, so nearly all the CPU goes to the server.
    """

    def __init__(self, host: str, port: int, cookie: str):
        self.host, self.port, self.cookie = host, port, cookie
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, str]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Cookie: {self.cookie}\r\nContent-Length: {len(body)}\r\n")
        if body:
            head += "Content-Type: application/x-www-form-urlencoded\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        data = await self.reader.readexactly(length) if length else b""
        return int(status_line.split()[1]), data.decode()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


STUDY = {"country": "FR", "researcher_name": "benchmark", "researcher_contact": "bench@localhost"}


def seed_census_study(db_url: str, seed: int = 1) -> None:
    """A study whose census has something to estimate: 4 waves, ~6,000 responses."""
    from sqlalchemy import insert

    from crowdcensus.collect.identity import new_public_id
    from crowdcensus.collect.models import responses, studies, waves

    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        sid = conn.execute(insert(studies).values(
            title="census under load", languages="fr,en", questionnaire_version="1",
            created_at=start, **STUDY)).inserted_primary_key[0]
        n_rows = 0
        for platform, size, churn in (("clickworker", 4000, False), ("prolific", 5000, True)):
            stay = rng.geometric(0.4, size) if churn else np.full(size, 99)
            arrive = rng.integers(0, 2, size) if churn else np.zeros(size, dtype=int)
            for k in range(4):
                wid = conn.execute(insert(waves).values(
                    public_id=new_public_id(), study_id=sid, label=f"{platform[:3]}{k + 1}",
                    platform=platform, opens_at=start + timedelta(days=30 * k),
                    closes_at=start + timedelta(days=30 * k + 7), reward_cents=50,
                    currency="USD", target_responses=10_000, platform_completion_code="BENCH",
                    created_at=start)).inserted_primary_key[0]
                present = (arrive <= k) & (k < arrive + stay)
                caught = np.flatnonzero(present & (rng.random(size) < 0.3))
                conn.execute(insert(responses), [{
                    "wave_id": wid, "worker_hash": f"{platform}{i:058d}",
                    "completion_code": f"B{n_rows + j:09d}", "submitted_at": start,
                    "language": "fr", "frequency": "weekly", "platforms_registered": platform,
                    "platforms_last_month": platform, "hours_per_week": 5.0,
                    "earnings_band": "lt20", "country": "FR", "attention_answer": "rarely",
                    "attention_passed": True} for j, i in enumerate(caught)])
                n_rows += len(caught)
    engine.dispose()


def server_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every process in the server's process group (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def start_server(db_url: str, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "CROWDCENSUS_SECRET": SECRET, "CROWDCENSUS_ADMIN_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "crowdcensus", "serve", "--db", db_url, "--port", str(port),
         "--workers", str(workers), "--rate-limit", "0", "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    wait_for_port(port)
    return proc


async def drive(base: str, pid: str, mode: str, n: int, concurrency: int,
                max_seconds: float, tag: str, client_kind: str = "httpx") -> dict:
    counter = iter(range(n))
    submit_lat: list[float] = []
    flow_lat: list[float] = []
    acked: list[str] = []
    errors = 0
    deadline = time.perf_counter() + max_seconds
    nonce = "bench-nonce"
    csrf = sign(SECRET.encode(), "csrf", {"n": nonce})
    form = urlencode({"csrf_token": csrf, **ANSWERS}, doseq=True)
    port = int(base.rsplit(":", 1)[1])
    cookie = f"{CSRF_COOKIE}={nonce}"

    def connect() -> RawClient | HttpxClient:
        if client_kind == "raw":
            return RawClient("127.0.0.1", port, cookie)
        return HttpxClient(base, {CSRF_COOKIE: nonce})

    async def worker() -> None:
        nonlocal errors
        client = connect()
        try:
            for i in counter:
                if time.perf_counter() > deadline:
                    return
                raw = f"bench-{tag}-{i}"
                t0 = time.perf_counter()
                try:
                    if mode == "submit":
                        h = worker_hash(SECRET.encode(), "generic", raw)
                        token = sign(SECRET.encode(), "participant",
                                     {"w": pid, "h": h, "l": "en", "iat": int(time.time())})
                    else:
                        _, page = await client.request("GET", f"/w/{pid}?id={raw}")
                        token = re.search(r'name="token" value="([^"]+)"', page).group(1)
                        await client.request("POST", f"/w/{pid}/consent", urlencode(
                            {"token": token, "csrf_token": csrf, "consent": "yes"}).encode())
                    t1 = time.perf_counter()
                    status, text = await client.request(
                        "POST", f"/w/{pid}/submit",
                        (urlencode({"token": token}) + "&" + form).encode())
                    t2 = time.perf_counter()
                except (OSError, asyncio.IncompleteReadError, httpx.HTTPError, AttributeError,
                        ValueError):
                    errors += 1
                    await client.close()
                    client = connect()
                    continue
                match = CODE.search(text)
                if status != 200 or not match:
                    errors += 1
                    continue
                acked.append(match.group(1))
                submit_lat.append(t2 - t1)
                flow_lat.append(t2 - t0)
        finally:
            await client.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {"elapsed": elapsed, "acked": acked, "errors": errors,
            "submit_lat": np.array(submit_lat), "flow_lat": np.array(flow_lat)}


async def census_load(base: str, study_id: int, stop: asyncio.Event) -> int:
    """Ask for the census of ``study_id`` once a second; count the distinct ones stored."""
    seen: set[str] = set()
    async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as api:
        while not stop.is_set():
            await api.post(f"/api/studies/{study_id}/census")
            census = (await api.get(f"/api/studies/{study_id}/census")).json()["census"]
            if census:
                seen.add(census["computed_at"] + census["as_of"])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    return len(seen)


async def drive_with_census(base, pid, mode, args, census_study: int | None) -> dict:
    stop = asyncio.Event()
    side = asyncio.create_task(census_load(base, census_study, stop)) if census_study else None
    result = await drive(base, pid, mode, args.n, args.concurrency, args.max_seconds, "run",
                         args.client)
    stop.set()
    result["censuses"] = await side if side is not None else None
    return result


def run_one(backend: str, db_url: str, mode: str, args) -> dict:
    upgrade(make_engine(db_url))
    if args.census:
        seed_census_study(db_url)
    port = free_port()
    server = start_server(db_url, port, args.workers)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers=AUTH) as api:
            census_study = api.get("/api/studies").json()[0]["id"] if args.census else None
            made = api.post("/api/studies", json={"title": f"bench {backend} {mode}",
                                                  **STUDY})
            if made.status_code == 422:  # a version of the service without researcher fields
                made = api.post("/api/studies", json={"title": f"bench {backend} {mode}",
                                                      "country": "FR"})
            study = made.json()
            wave = api.post(f"/api/studies/{study['id']}/waves",
                            json={"platform": "generic", "target_responses": 1_000_000}
                            ).json()
            pid = wave["worker_link"].rsplit("/", 1)[1]
            asyncio.run(drive(base, pid, mode, min(200, args.n), args.concurrency, 30,
                              "warmup"))
            cpu0 = server_cpu_seconds(server.pid)
            result = asyncio.run(drive_with_census(base, pid, mode, args, census_study))
            result["server_cpu"] = server_cpu_seconds(server.pid) - cpu0
            rows = api.get(f"/api/studies/{study['id']}/responses?format=json",
                           timeout=120).json()
        stored = {r["completion_code"] for r in rows}
        result["lost"] = len(set(result["acked"]) - stored)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return result


def report(backend: str, mode: str, r: dict, args) -> None:
    done = len(r["acked"])
    sub = r["submit_lat"] * 1000
    line = (f"{backend:10s} {mode:6s} client={args.client} workers={args.workers} "
            f"concurrency={args.concurrency} "
            f"completed={done} in {r['elapsed']:.1f}s -> {done / r['elapsed']:.0f} "
            f"questionnaires/s; submit p50={np.percentile(sub, 50):.1f}ms "
            f"p99={np.percentile(sub, 99):.1f}ms")
    if mode == "flow":
        flow = r["flow_lat"] * 1000
        line += f"; whole flow p50={np.percentile(flow, 50):.1f}ms " \
                f"p99={np.percentile(flow, 99):.1f}ms"
    line += f"; server CPU {1000 * r['server_cpu'] / max(1, done):.2f} ms/questionnaire"
    line += f"; errors={r['errors']} lost={r['lost']}"
    if r.get("censuses") is not None:
        line += f"; censuses computed during the run={r['censuses']}"
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--mode", choices=["submit", "flow", "both"], default="both")
    parser.add_argument("--client", choices=["httpx", "raw", "both"], default="both",
                        help="load generator: httpx.AsyncClient, a lean asyncio client, or both")
    parser.add_argument("--n", type=int, default=4000, help="questionnaires per run")
    parser.add_argument("--concurrency", type=int, default=16, help="simulated workers")
    parser.add_argument("--workers", type=int, default=None,
                        help="server processes (default: 1 for SQLite, 2 for PostgreSQL)")
    parser.add_argument("--max-seconds", type=float, default=60)
    parser.add_argument("--census", action="store_true",
                        help="recompute a 6,000-response study's census every second meanwhile")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    modes = ["submit", "flow"] if args.mode == "both" else [args.mode]
    clients = ["raw", "httpx"] if args.client == "both" else [args.client]
    print(f"# {os.cpu_count()} CPUs shared by client and server; load average before: "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    for backend in backends:
        workers = args.workers or (1 if backend == "sqlite" else 2)
        for client in clients:
            for mode in modes:
                run_args = argparse.Namespace(**{**vars(args), "client": client,
                                                 "workers": workers})
                if backend == "sqlite":
                    tmp = tempfile.mkdtemp(prefix="crowdcensus-bench-")
                    try:
                        r = run_one(backend, f"sqlite:///{tmp}/bench.db", mode, run_args)
                    finally:
                        shutil.rmtree(tmp, ignore_errors=True)
                else:
                    pg = ThrowawayPostgres(require_postgres(), durable=True)
                    try:
                        r = run_one(backend, pg.url(), mode, run_args)
                    finally:
                        pg.stop()
                report(backend, mode, r, run_args)


if __name__ == "__main__":
    main()
