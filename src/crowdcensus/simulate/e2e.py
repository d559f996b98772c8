"""End to end through the real collection service.

:func:`run_through_service` does what a research team would do, on loopback:

1. draws a synthetic country and writes its study (declared and audience
   figures, the study file) as :mod:`~crowdcensus.simulate.outputs` does;
2. starts the collection service (``crowdcensus db upgrade`` then
   ``crowdcensus serve`` as a subprocess, on a free ``127.0.0.1`` port, with a
   temporary SQLite database, identity secret and admin token);
3. creates the study and one wave per posting through the researcher API;
4. makes every simulated respondent answer their waves over HTTP, as a worker
   arriving from the platform would (landing page with the platform's ID
   parameter, consent, questionnaire, completion code);
5. exports the responses through the API, stops the service, runs
   ``crowdcensus run`` on the study and compares the tiers with the truth.

The task is posted on the scenario's platforms that the service supports
(:data:`SERVICE_PLATFORMS`; the others are left out of the posting, and
``truth.json`` gives the tiers of the workers registered where it was posted
as well as the country's). A wave posted on several platforms is one occasion
of the service (a wave per platform, ``w1_mturk``, ``w1_prolific``…, with
occasion ``w1``). The service links a worker's answers across waves by the
keyed hash of their platform ID, which differs between platforms, so the
country is drawn with one ID per platform (``experiment.linked_across_platforms
= false``) and ``crowdcensus run`` reads each respondent as one worker's answers
on one platform. The load is bounded: at most :data:`MAX_RESPONSES` answers, a
few client threads, and a time limit.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from crowdcensus.collect.loopback import free_port
from crowdcensus.errors import CrowdcensusError, InputError
from crowdcensus.simulate.outputs import write_simulation
from crowdcensus.simulate.scenario import Scenario, parse_scenario
from crowdcensus.simulate.world import World, generate_world
from crowdcensus.tiers import TIERS

#: Platforms whose links the collection service understands, and their ID parameter.
SERVICE_PLATFORMS = {"clickworker": "user_id", "prolific": "PROLIFIC_PID", "mturk": "workerId"}
MAX_RESPONSES = 5000
CLIENT_THREADS = 4
#: The service study's country when the scenario's is the placeholder ``XX``.
SERVICE_COUNTRY = "FR"
_HIDDEN = re.compile(r'name="(token|csrf_token)" value="([^"]*)"')
_CODE = re.compile(r"[A-Z0-9]{6,}")


@dataclass
class ServiceRun:
    """What an end-to-end run produced."""

    out: Path
    platforms: list[str]
    responses_sent: int
    responses_exported: int
    seconds: float
    truth: dict[str, int]
    truth_where_posted: dict[str, int]
    combined: dict[str, dict[str, float]]
    experiment: dict[str, dict[str, float]]
    capture_estimate: float | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def relative_errors(self) -> dict[str, float]:
        """Combined estimate / truth - 1, per tier."""
        return {t: self.combined[t]["estimate"] / self.truth[t] - 1 for t in TIERS
                if t in self.combined}

    def describe(self) -> str:
        lines = [f"end to end through the collection service ({', '.join(self.platforms)}): "
                 f"{self.responses_sent} answers sent over HTTP, {self.responses_exported} "
                 f"exported, {self.seconds:.1f} s",
                 f"report: {self.out / 'report' / 'report.html'}"]
        for t in TIERS:
            c = self.combined.get(t)
            if c is None:
                continue
            lines.append(f"{t}: truth {self.truth[t]:,}, combined {c['estimate']:,.0f} "
                         f"({c['low']:,.0f}-{c['high']:,.0f}), "
                         f"{100 * (c['estimate'] / self.truth[t] - 1):+.1f}%")
        for t in TIERS:
            e = self.experiment.get(t)
            if e is None:
                continue
            lines.append(f"{t}, workers registered on {' or '.join(self.platforms)}: truth "
                         f"{self.truth_where_posted[t]:,}, experiment {e['estimate']:,.0f} "
                         f"({e['low']:,.0f}-{e['high']:,.0f})")
        return "\n".join(lines)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "crowdcensus", *args]


class Service:
    """The collection service in a subprocess, on loopback, with throwaway state."""

    def __init__(self, workdir: Path, startup_timeout: float = 120.0) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_urlsafe(24)
        self.db = f"sqlite:///{workdir / 'collect.db'}"
        self.secret_file = workdir / "secret"
        self.secret_file.write_text(secrets.token_hex(32))
        self.secret_file.chmod(0o600)
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Service:
        import httpx

        up = subprocess.run(_cli("db", "upgrade", "--db", self.db), capture_output=True,
                            text=True, timeout=120)
        if up.returncode != 0:
            raise CrowdcensusError(f"crowdcensus db upgrade failed: {up.stderr.strip()}")
        self.log = open(self.workdir / "serve.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            _cli("serve", "--db", self.db, "--secret-file", str(self.secret_file),
                 "--admin-token", self.token, "--host", "127.0.0.1", "--port", str(self.port),
                 "--rate-limit", "0", "--log-level", "warning"),
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CrowdcensusError("the collection service stopped at start: "
                                       + (self.workdir / "serve.log").read_text()[-500:])
            try:
                r = httpx.get(f"{self.url}/api/studies", headers=self.headers, timeout=2)
                if r.status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise CrowdcensusError(f"the collection service did not answer within "
                               f"{self.startup_timeout:g} s")

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None) is not None:
            self.log.close()


def service_posting(scenario: Scenario) -> Scenario:
    """The scenario as the service can run it: posted only on the platforms it supports,
    with one worker ID per platform when it is posted on several.

    >>> from crowdcensus.simulate.scenario import load_scenario
    >>> sc = service_posting(load_scenario("heterogeneous"))
    >>> sc.posted(), sc.experiment.linked_across_platforms
    (['clickworker', 'mturk'], False)
    """
    exp = scenario.experiment
    by_wave = [[p for p in wave if p in SERVICE_PLATFORMS]
               for wave in scenario.posted_in_waves()]
    for w, wave in enumerate(by_wave):
        if not wave:
            where = (f"experiment.posted_waves[{w}] is {scenario.posted_in_waves()[w]}"
                     if exp.posted_waves is not None
                     else f"the task is posted on {scenario.posted()}")
            raise InputError(f"scenario {scenario.scenario.name}: the task must be posted on "
                             "a platform the collection service supports "
                             f"({', '.join(SERVICE_PLATFORMS)}); {where}")
    changes: dict = ({"posted_waves": by_wave} if exp.posted_waves is not None
                     else {"platforms": by_wave[0]})
    if len({p for wave in by_wave for p in wave}) > 1:
        changes["linked_across_platforms"] = False
    return scenario.with_experiment(**changes)


class _ThreadClients:
    """One HTTP client per thread: a worker's visit keeps its cookies to itself."""

    def __init__(self, httpx_module) -> None:
        self._httpx = httpx_module
        self._local = threading.local()
        self._all: list = []
        self._lock = threading.Lock()

    def get(self):
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._httpx.Client(timeout=30)
            with self._lock:
                self._all.append(client)
        return client

    def close(self) -> None:
        for client in self._all:
            client.close()


def _answer(clients: _ThreadClients, url: str, platform: str, raw_id: str, row: dict) -> str:
    """One worker's visit: landing, consent, questionnaire; returns the completion code.

    The visit runs on this thread's own client, its cookies cleared first, as a new
    browser would arrive.
    """
    client = clients.get()
    client.cookies.clear()
    params = {SERVICE_PLATFORMS[platform]: raw_id}
    if platform == "mturk":
        params.update(assignmentId=f"A{raw_id}{row['wave']}", hitId="HSIM",
                      turkSubmitTo="https://workersandbox.mturk.com")
    r = client.get(url, params=params)
    r.raise_for_status()
    hidden = dict(_HIDDEN.findall(r.text))
    r = client.post(f"{url}/consent", data={**hidden, "consent": "yes"})
    r.raise_for_status()
    hidden = dict(_HIDDEN.findall(r.text))
    form = {**hidden, "frequency": row["frequency"],
            "platforms_registered": row["platforms_registered"].split(","),
            "platforms_last_month": [p for p in row["platforms_last_month"].split(",") if p],
            "hours_per_week": str(row["hours_per_week"]), "earnings_band": row["earnings_band"],
            "country": row["country"], "attention": row["attention_answer"],
            **({"started_month": row["started_month"]} if "started_month" in row else {})}
    r = client.post(f"{url}/submit", data=form)
    if r.status_code not in (200, 303):  # 303: Prolific's completion redirect
        raise CrowdcensusError(f"the service refused an answer ({r.status_code}): "
                               f"{r.text[:200]}")
    return row["wave"]


def run_through_service(
    scenario: Scenario,
    out: str | Path,
    seed: int = 1,
    log: Callable[[str], None] | None = None,
    timeout: float = 600.0,
) -> ServiceRun:
    """Simulate ``scenario``, collect its answers through the service, run the study.

    Raises
    ------
    InputError
        When the scenario posts on no platform the service supports, would
        send more than :data:`MAX_RESPONSES` answers, has respondents leave the
        question on their platforms blank (the service asks it of everyone), or posts a
        wave only on platforms the service does not support.
        A wave posted on several platforms is one occasion with a wave on each.
        Respondents who answer at random (``activity.inattentive``) send their answer to
        the attention check, which the service scores; workers abroad
        (``population.abroad``) answer the questionnaire's country question with theirs,
        and the study file reads it (``experiment.country_column``). A scenario whose
        country is the placeholder ``XX`` runs as ``FR``, the service study's country.
    """
    if scenario.experiment.unstated > 0:
        raise InputError("experiment.unstated: the collection service asks every respondent "
                         "the platforms they are registered on; simulate without "
                         "--through-service to leave some blank")
    from crowdcensus.extras import require_extra

    require_extra("collect", "crowdcensus simulate --through-service")
    import httpx

    from crowdcensus.simulate.outputs import export_frame

    say = log or (lambda _m: None)
    started = time.monotonic()
    out = Path(out)
    scenario = service_posting(scenario)
    by_wave = scenario.posted_in_waves()
    platforms = scenario.posted()
    country = SERVICE_COUNTRY if scenario.scenario.country == "XX" else scenario.scenario.country
    if scenario.population.abroad > 0:
        # the answers' countries and the study file's must be the service study's
        data = scenario.model_dump(mode="json")
        data["scenario"]["country"] = country
        scenario = parse_scenario(data, name=scenario.scenario.name)
    rng = np.random.default_rng(seed)
    world: World = generate_world(scenario, rng)
    answers = export_frame(world)
    if len(answers) > MAX_RESPONSES:
        raise InputError(f"the scenario would send {len(answers):,} answers over HTTP (at most "
                         f"{MAX_RESPONSES:,}); scale it down with --workers")
    study_path = write_simulation(world, out, seed=seed)
    (out / "responses.csv").rename(out / "responses-simulated.csv")
    # raw platform IDs exist only in memory and on the wire, never on disk
    raw_ids = {w: f"SIM{secrets.token_hex(6).upper()}" for w in answers["worker_hash"].unique()}
    timings: dict[str, float] = {}
    tmp = Path(tempfile.mkdtemp(prefix="crowdcensus-e2e-"))
    try:
        with Service(tmp) as svc:
            timings["service_start"] = time.monotonic() - started
            say(f"collection service on {svc.url}")
            with httpx.Client(base_url=svc.url, headers=svc.headers, timeout=30) as api:
                r = api.post("/api/studies", json={
                    "title": f"Simulated study ({scenario.scenario.name})",
                    "country": country,
                    "researcher_name": "crowdcensus simulation",
                    "researcher_contact": "simulation@localhost"})
                r.raise_for_status()
                study_id = r.json()["id"]
                links: dict[str, dict[str, str]] = {}
                for w, posted in enumerate(by_wave):
                    occasion = f"w{w + 1}"   # the simulated answers' wave
                    for platform in posted:
                        r = api.post(f"/api/studies/{study_id}/waves", json={
                            "platform": platform, "occasion": occasion,
                            "label": occasion if len(platforms) == 1
                            else f"{occasion}_{platform}",
                            "target_responses": max(1, len(answers))})
                        r.raise_for_status()
                        links.setdefault(occasion, {})[platform] = r.json()["worker_link"]
            t0 = time.monotonic()
            sent = 0
            for label in links:
                rows = answers[answers["wave"] == label].to_dict(orient="records")
                if time.monotonic() - started > timeout:
                    raise CrowdcensusError(f"end-to-end run over its time limit ({timeout:g} s)")
                clients = _ThreadClients(httpx)
                try:
                    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
                        jobs = [pool.submit(_answer, clients, links[label][row["platform"]],
                                            row["platform"], raw_ids[row["worker_hash"]], row)
                                for row in rows]
                        for job in jobs:
                            job.result()
                finally:
                    clients.close()
                sent += len(rows)
                say(f"wave {label}: {len(rows)} answers")
            timings["answers"] = time.monotonic() - t0
            r = httpx.get(f"{svc.url}/api/studies/{study_id}/responses",
                          params={"format": "csv"}, headers=svc.headers, timeout=60)
            r.raise_for_status()
            (out / "responses.csv").write_bytes(r.content)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    exported = pd.read_csv(out / "responses.csv")
    t0 = time.monotonic()
    run = subprocess.run(_cli("run", str(study_path), "--out", str(out / "report")),
                         capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise CrowdcensusError(f"crowdcensus run failed: {run.stderr.strip()}")
    timings["run"] = time.monotonic() - t0
    results = json.loads((out / "report" / "results.json").read_text())
    truth = json.loads((out / "truth.json").read_text())
    experiment = results["methods"].get("experiment", {})
    capture = (results.get("experiment") or {}).get("capture") or {}
    return ServiceRun(out, platforms, sent, len(exported), time.monotonic() - started,
                      truth["tiers"], truth["experiment"]["tiers_registered_where_posted"],
                      results["tiers"]["nested"], experiment, capture.get("estimate"), timings)
