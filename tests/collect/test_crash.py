"""Durability: kill -9 the real server under load; every acknowledged response survives.

On a SQLite file (WAL, synchronous=FULL) and on PostgreSQL (the server
process is killed, the database keeps running, as when an app instance dies).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from crowdcensus.collect.database import make_engine, upgrade
from crowdcensus.collect.identity import sign, worker_hash
from crowdcensus.collect.security import CSRF_COOKIE

from .helpers import ADMIN_TOKEN, AUTH, GOOD_ANSWERS, SECRET, free_port, wait_for_port

pytestmark = [pytest.mark.xdist_group("collect-db"), pytest.mark.slow]

N_SUBMISSIONS = 600
KILL_AFTER = 150
THREADS = 8


def start_server(url: str, port: int, log) -> subprocess.Popen:
    env = {**os.environ, "CROWDCENSUS_SECRET": SECRET.decode(),
           "CROWDCENSUS_ADMIN_TOKEN": ADMIN_TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "crowdcensus", "serve", "--db", url, "--port", str(port),
         "--rate-limit", "0", "--log-level", "info"],
        env=env, stdout=log, stderr=log)
    wait_for_port(port)
    return proc


@pytest.fixture(params=["sqlite", "postgresql"])
def crash_db(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crash.db'}"
    return request.getfixturevalue("pg_cluster").new_database()


def test_acknowledged_responses_survive_kill_9(tmp_path, crash_db):
    url = crash_db
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    port = free_port()
    log_path = tmp_path / "server.log"
    log = open(log_path, "ab")  # noqa: SIM115 -- shared by both server runs
    server = start_server(url, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers=AUTH) as api:
            study = api.post("/api/studies", json={
                "title": "crash", "country": "FR", "researcher_name": "Lab",
                "researcher_contact": "lab@example.org"}).json()
            wave = api.post(f"/api/studies/{study['id']}/waves",
                            json={"platform": "clickworker"}).json()
            pid = wave["worker_link"].rsplit("/", 1)[1]
            # A few real landings carrying raw IDs, for the log check below.
            for i in range(3):
                assert api.get(f"/w/{pid}", params={"user_id": f"RAWCRASH{i}"}).status_code \
                    == 200

        nonce = "crash-test-nonce"
        csrf = sign(SECRET, "csrf", {"n": nonce})
        acked: dict[str, str] = {}
        lock = threading.Lock()
        killed = threading.Event()
        local = threading.local()
        clients: list[httpx.Client] = []

        def submit(i: int) -> None:
            if killed.is_set():
                return
            hashed = worker_hash(SECRET, "clickworker", f"crash-worker-{i}")
            token = sign(SECRET, "participant", {"w": pid, "h": hashed, "l": "en",
                                                 "iat": int(time.time())})
            worker = getattr(local, "client", None)
            if worker is None:
                worker = local.client = httpx.Client(base_url=base, timeout=10,
                                                     cookies={CSRF_COOKIE: nonce})
                clients.append(worker)
            try:
                response = worker.post(f"/w/{pid}/submit", data={
                    "token": token, "csrf_token": csrf, **GOOD_ANSWERS})
            except httpx.HTTPError:
                return  # not acknowledged: the server died first
            if response.status_code == 200:
                code = re.search(r'id="code">([A-Z0-9]+)<', response.text).group(1)
                with lock:
                    acked[hashed] = code
                    if len(acked) >= KILL_AFTER and not killed.is_set():
                        killed.set()
                        os.kill(server.pid, signal.SIGKILL)

        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(submit, range(N_SUBMISSIONS)))
        for worker in clients:
            worker.close()
        server.wait(timeout=10)
        assert killed.is_set() and server.returncode == -signal.SIGKILL
        assert len(acked) >= KILL_AFTER

        server = start_server(url, port, log)
        with httpx.Client(base_url=base, headers=AUTH) as api:
            stored = api.get(f"/api/studies/{study['id']}/responses?format=json").json()
        codes = {row["completion_code"] for row in stored}
        missing = set(acked.values()) - codes
        assert not missing, f"{len(missing)} acknowledged responses lost"
    finally:
        server.kill()
        server.wait(timeout=10)
        log.close()
    text = log_path.read_text()
    assert "GET /w/" in text  # the access log ran
    assert "RAWCRASH" not in text and "Traceback" not in text
