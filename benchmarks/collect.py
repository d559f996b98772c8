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

Usage::

    python benchmarks/collect.py          # sqlite + postgresql, both modes, both clients
    python benchmarks/collect.py --backend sqlite --mode submit --client raw --n 5000

Everything stays on loopback; the run stops after --n questionnaires or
--max-seconds, whichever comes first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
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


def run_one(backend: str, db_url: str, mode: str, args) -> dict:
    upgrade(make_engine(db_url))
    port = free_port()
    server = start_server(db_url, port, args.workers)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers=AUTH) as api:
            study = api.post("/api/studies", json={"title": f"bench {backend} {mode}",
                                                   "country": "FR"}).json()
            wave = api.post(f"/api/studies/{study['id']}/waves",
                            json={"platform": "generic"}).json()
            pid = wave["worker_link"].rsplit("/", 1)[1]
            asyncio.run(drive(base, pid, mode, min(200, args.n), args.concurrency, 30,
                              "warmup"))
            result = asyncio.run(drive(base, pid, mode, args.n, args.concurrency,
                                       args.max_seconds, "run", args.client))
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
    line += f"; errors={r['errors']} lost={r['lost']}"
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
