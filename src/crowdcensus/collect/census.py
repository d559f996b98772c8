"""The live census of a study: what the waves show so far, and what it says about the population.

:func:`compute_census` reads a study's waves and responses and builds, as of
a given time:

* per wave: responses, how many were new and how many were recaptures
  (workers already seen in an earlier wave of the same platform), and the
  distribution of the reported frequencies of micro-work;
* per platform: the workers seen, the number of workers shared by each pair
  of waves, and -- from the second wave on -- the closed-population estimate
  of the population the postings reached on that platform: the table of
  ``crowdcensus estimate closed`` on the platform's capture histories (the
  very file the histories export gives), the usable model with the lowest AIC
  with its profile-likelihood interval, and the same estimate wave after wave
  (the running estimate);
* when a platform's waves span months (:data:`OPEN_MIN_SPAN_DAYS`, at least
  three waves): the Jolly--Seber open-population model of ``crowdcensus
  estimate open`` (arrivals, survival, half-life in waves and in days).

People are linked across the waves of one platform only (the hash covers the
platform), so there is one estimate per platform; their total, each worker counted
once, weights each platform's estimate by the share of a worker its respondents
stand for (:func:`across_platforms`).

:func:`store_census` keeps the latest census of each study (its JSON and its
PNG plots) in ``census_snapshots`` / ``census_plots``; :func:`run_census`
does both and is what the helper process of :mod:`census_runner` runs, off
the request path.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, delete, insert, select

from crowdcensus.collect import exports, live
from crowdcensus.collect.models import census_plots, census_snapshots, responses, studies
from crowdcensus.collect.questionnaire import FREQUENCIES
from crowdcensus.collect.store import iso

#: The open-population model is fitted when a platform's waves span at least this long.
OPEN_MIN_SPAN_DAYS = 60
OPEN_MIN_WAVES = 3
SCHEMA_VERSION = 1


def _wave_table(conn: Connection, study_id: int,
                now: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    table = exports.study_waves(conn, study_id, opened_by=now)
    ids = table["id"].tolist()
    events = pd.DataFrame(
        conn.execute(select(responses.c.wave_id, responses.c.worker_hash,
                            responses.c.frequency, responses.c.platforms_registered)
                     .where(responses.c.wave_id.in_(ids))
                     .order_by(responses.c.id)).all() if ids else [],   # oldest first
        columns=["wave_id", "worker_hash", "frequency", "platforms_registered"])
    return table, events


def _wave_rows(table: pd.DataFrame, events: pd.DataFrame) -> list[dict]:
    rows = []
    seen: dict[str, set] = {}
    for wave in table.itertuples():
        mine = events[events["wave_id"] == wave.id]
        workers = set(mine["worker_hash"])
        before = seen.setdefault(wave.platform, set())
        counts = mine["frequency"].value_counts()
        rows.append({
            "label": wave.label, "platform": wave.platform,
            "opens_at": iso(_ts(wave.opens_at)), "closes_at": iso(_ts(wave.closes_at)),
            "target_responses": int(wave.target_responses),
            "n_responses": int(len(mine)),
            "new": len(workers - before), "recaptured": len(workers & before),
            "frequencies": {code: int(counts.get(code, 0)) for code in FREQUENCIES},
        })
        before |= workers
    return rows


def _ts(value) -> datetime | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    return value


def _overlaps(table: pd.DataFrame, events: pd.DataFrame) -> list[list[int]]:
    sets = [set(events.loc[events["wave_id"] == wid, "worker_hash"]) for wid in table["id"]]
    return [[len(a & b) for b in sets] for a in sets]


def _span_days(table: pd.DataFrame) -> float | None:
    opens = pd.to_datetime(table["opens_at"], utc=True).dropna()
    if len(opens) < 2:
        return None
    return float((opens.max() - opens.min()).total_seconds() / 86400)


def _platform(conn: Connection, study_id: int, platform: str, table: pd.DataFrame,
              events: pd.DataFrame, now: datetime, level: float) -> tuple[dict, dict]:
    """The census of one platform, and its histories frames (for the plots)."""
    mine = table[table["platform"] == platform].reset_index(drop=True)
    ev = events[events["wave_id"].isin(mine["id"])]
    out: dict = {
        "waves": mine["label"].tolist(),
        "n_responses": int(len(ev)),
        "n_workers": int(ev["worker_hash"].nunique()),
        "overlaps": _overlaps(mine, ev),
        "frequencies": {code: int((ev["frequency"] == code).sum()) for code in FREQUENCIES},
        "closed": None, "estimate": None, "running": [], "open": None, "notes": [],
    }
    frames: dict = {}
    if len(mine) < 2 or ev.empty:
        out["notes"].append("a running estimate needs a second wave on this platform")
        return out, frames
    errors = live.estimator_errors()
    try:
        frame = exports.histories_frame(conn, study_id, platform, opened_by=now)
    except errors as exc:
        out["notes"].append(f"capture histories: {exc}")
        return out, frames
    frames["histories"] = frame
    try:
        closed = live.closed_estimates(frame, level)
        out["closed"], out["estimate"] = closed["table"], closed["selected"]
        for name, why in closed["skipped"].items():
            out["notes"].append(f"{name} not fitted: {why}")
        if closed["selected"] is None:
            out["notes"].append("no closed model gives a usable estimate yet (too few "
                                "recaptures)")
    except errors as exc:
        out["notes"].append(f"closed models: {exc}")
    labels = [c for c in frame.columns if c != "freq"]
    for k in range(2, len(labels) + 1):
        prefix = frame[labels[:k] + ["freq"]]
        prefix = prefix[prefix[labels[:k]].sum(axis=1) > 0]
        point = {"waves": k, "through": labels[k - 1], "model": None, "abundance": None,
                 "ci_low": None, "ci_high": None}
        if not prefix.empty:
            try:
                sel = live.closed_estimates(prefix, level)["selected"]
            except errors:
                sel = None
            if sel is not None:
                point.update(model=sel["model"], abundance=sel["abundance"],
                             ci_low=sel.get("ci_low"), ci_high=sel.get("ci_high"))
        out["running"].append(point)
    span = _span_days(mine)
    out["span_days"] = span
    if (len(labels) >= OPEN_MIN_WAVES and span is not None and span >= OPEN_MIN_SPAN_DAYS
            and len(labels) <= live.max_open_periods()):
        try:
            out["open"] = live.open_estimates(frame, level)
            frames["open"] = frame
            gap = span / (len(labels) - 1)
            hl = out["open"]["half_life"]
            out["open_days_per_wave"] = gap
            out["open_half_life_days"] = {
                k: (None if hl.get(k) is None else hl[k] * gap)
                for k in ("estimate", "low", "high")}
        except errors as exc:
            out["notes"].append(f"open-population model: {exc}")
    elif len(labels) >= OPEN_MIN_WAVES:
        out["notes"].append(f"the open-population model is fitted when the waves span at "
                            f"least {OPEN_MIN_SPAN_DAYS} days (and at most "
                            f"{live.max_open_periods()} waves)")
    return out, frames


#: Draws of the total across platforms (seeded: a census is the same when recomputed).
ACROSS_DRAWS = 20_000


def _log_spread(est: dict, caught: int, z: float) -> float | None:
    """The log-scale spread of the uncaught (estimate - caught) that the profile interval
    implies, the mean of its two sides; None when it does not say."""
    f0 = est["abundance"] - caught
    sides = []
    for bound, sign in ((est.get("ci_high"), 1), (est.get("ci_low"), -1)):
        if bound is not None and f0 > 0 and (bound - caught) > 0:
            sides.append(sign * float(np.log((bound - caught) / f0)) / z)
    sides = [x for x in sides if np.isfinite(x) and x >= 0]
    return float(np.mean(sides)) if sides else None


def across_platforms(platforms: dict, table: pd.DataFrame, events: pd.DataFrame,
                     level: float) -> dict | None:
    """The workers the postings reached on all the platforms, each counted once.

    A worker is linked across the waves of one platform only, so each platform has its
    own estimate; a worker registered on ``m`` of the platforms the task was posted on is
    in ``m`` of them. Each platform's estimate is weighted by the mean of ``1/m`` over its
    respondents (``m`` from the platforms they say they are registered on, the one they
    answered on included; the latest answer of each), and the weighted estimates add up;
    the interval comes from draws of each platform's uncaught workers, log-normal with
    the spread of its profile interval, taken as independent. None unless every
    platform with answers has an estimate, and there are two or more.
    """
    from scipy import stats

    from crowdcensus.methods.experiment import share_of_worker

    posted = set(table["platform"])
    estimated = {p: c for p, c in platforms.items() if c["n_workers"] > 0}
    if len(estimated) < 2 or any(c["estimate"] is None for c in estimated.values()):
        return None
    z = float(stats.norm.ppf(0.5 + level / 2))
    rng = np.random.default_rng(0)
    draws = np.zeros(ACROSS_DRAWS)
    parts, total = {}, 0.0
    for platform, c in estimated.items():
        ev = events[events["wave_id"].isin(table.loc[table["platform"] == platform, "id"])]
        latest = ev.groupby("worker_hash")["platforms_registered"].last()
        shares = [share_of_worker(filter(None, str(r).split(",")), posted, platform)
                  for r in latest]
        weight = float(np.mean(shares)) if shares else 1.0
        est, caught = c["estimate"], c["n_workers"]
        spread = _log_spread(est, caught, z)
        if spread is None:
            return None
        f0 = max(est["abundance"] - caught, 0.0)
        draws += weight * (caught + f0 * np.exp(spread * rng.standard_normal(ACROSS_DRAWS)))
        total += weight * est["abundance"]
        parts[platform] = {"estimate": est["abundance"], "weight": weight,
                           "respondents": int(len(latest))}
    tail = (1 - level) / 2
    return {"estimate": total, "ci_low": float(np.quantile(draws, tail)),
            "ci_high": float(np.quantile(draws, 1 - tail)), "platforms": parts}


def compute_census(conn: Connection, study_id: int, now: datetime, reason: str,
                   level: float = 0.95) -> tuple[dict, dict[str, bytes]]:
    """The census of a study as of ``now``: its JSON and its PNG plots by name.

    Raises
    ------
    LookupError
        When there is no such study.
    """
    if conn.execute(select(studies.c.id).where(studies.c.id == study_id)).first() is None:
        raise LookupError(f"no study {study_id}")
    table, events = _wave_table(conn, study_id, now)
    payload: dict = {
        "schema_version": SCHEMA_VERSION, "study_id": study_id, "as_of": iso(now),
        "reason": reason, "level": level,
        "waves": _wave_rows(table, events), "platforms": {},
    }
    frames: dict[str, dict] = {}
    for platform in dict.fromkeys(table["platform"]):
        payload["platforms"][platform], frames[platform] = _platform(
            conn, study_id, platform, table, events, now, level)
    payload["across_platforms"] = across_platforms(payload["platforms"], table, events, level)
    from crowdcensus.collect.census_plots import census_plots as draw

    plots = draw(payload, frames)
    payload["plots"] = sorted(plots)
    return payload, plots


def store_census(engine: Engine, study_id: int, now: datetime, reason: str,
                 payload: dict, plots: dict[str, bytes]) -> int:
    """Replace the study's stored census by this one; return the snapshot id."""
    with engine.begin() as conn:
        conn.execute(delete(census_snapshots).where(census_snapshots.c.study_id == study_id))
        sid = conn.execute(insert(census_snapshots).values(
            study_id=study_id, computed_at=now, reason=reason[:40],
            payload=json.dumps(payload, allow_nan=False))).inserted_primary_key[0]
        for name, png in plots.items():
            conn.execute(insert(census_plots).values(snapshot_id=sid, name=name, png=png))
    return sid


def run_census(db_url: str, study_id: int, now_iso: str, reason: str) -> int:
    """Compute and store a study's census (what the helper process runs)."""
    from crowdcensus.collect.database import make_engine

    now = datetime.fromisoformat(now_iso).astimezone(UTC)
    engine = make_engine(db_url, pool_size=1)
    try:
        with engine.connect() as conn:
            payload, plots = compute_census(conn, study_id, now, reason)
        return store_census(engine, study_id, now, reason, payload, plots)
    finally:
        engine.dispose()


def latest_census(engine: Engine, study_id: int) -> dict | None:
    """The stored census of a study (its JSON, with ``computed_at``), or None."""
    with engine.connect() as conn:
        row = conn.execute(select(census_snapshots.c.payload, census_snapshots.c.computed_at)
                           .where(census_snapshots.c.study_id == study_id)
                           .order_by(census_snapshots.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    payload = json.loads(row.payload)
    payload["computed_at"] = iso(row.computed_at)
    return payload


def census_plot(engine: Engine, study_id: int, name: str) -> bytes | None:
    """One PNG of the study's stored census, or None."""
    query = (select(census_plots.c.png)
             .join(census_snapshots, census_snapshots.c.id == census_plots.c.snapshot_id)
             .where(census_snapshots.c.study_id == study_id, census_plots.c.name == name)
             .order_by(census_snapshots.c.id.desc()).limit(1))
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def _helper_main() -> int:
    """``python -m crowdcensus.collect.census``: one job as JSON on standard input."""
    import contextlib
    import os
    import sys

    # The web server comes first: the lowest priority, and a CPU-bound batch job
    # that does not preempt interactive work (Linux), so it runs when the server waits.
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    with contextlib.suppress(OSError):
        os.nice(19)
    job = json.loads(sys.stdin.read())
    try:
        run_census(job["db_url"], int(job["study_id"]), job["now"], job["reason"])
    except Exception as exc:  # one line for the server's log
        print(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_helper_main())
