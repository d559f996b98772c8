"""Writing a simulated study: the inputs a real study has, and the truth apart.

:func:`write_simulation` writes into a directory

* ``study.toml`` — a study file in the pipeline's format (``crowdcensus run``
  reads it as is), marked ``simulated = true``;
* ``responses.csv`` — the answers, in the collection service's export format
  (columns of :data:`RESPONSE_COLUMNS`);
* ``declared.csv`` and ``audience.csv`` — the platforms' declared
  registrations and the traffic panel's monthly unique visitors;
* ``truth.json`` — the true tiers and every other true quantity, which a
  study never sees.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from crowdcensus.errors import InputError
from crowdcensus.simulate.world import World

#: Columns of the collection service's responses export.
RESPONSE_COLUMNS = [
    "worker_hash", "wave", "platform", "submitted_at", "completion_code", "language",
    "frequency", "platforms_registered", "platforms_last_month", "hours_per_week",
    "earnings_band", "country", "attention_answer", "attention_passed",
]
REFERENCE_START = datetime(2025, 1, 6, tzinfo=UTC)
_EARNINGS = [(0.5, "lt20"), (3, "20_99"), (8, "100_299"), (20, "300_999")]


def _earnings(hours: np.ndarray) -> np.ndarray:
    """The earnings band of each weekly hours figure (the first limit above it)."""
    labels = np.array([band for _, band in _EARNINGS] + ["1000_plus"], dtype=object)
    return labels[np.searchsorted([limit for limit, _ in _EARNINGS], hours, side="right")]


def export_frame(world: World) -> pd.DataFrame:
    """The responses as the collection service exports them (one row per answer)."""
    r = world.responses
    idx = r["index"].to_numpy()
    if world.hours is not None:
        hours = world.hours[idx]
    else:  # a world made before hours were drawn
        hours = np.round(np.minimum(world.rate[idx] * 1.5, 60.0), 1)
    country = world.scenario.scenario.country
    plats = r["platform"].to_numpy(dtype=object)
    last_month = [plat if plat in regs.split(",") else ""
                  for regs, plat in zip(r["platforms_registered"].to_numpy(dtype=object), plats,
                                        strict=True)]
    # ISO 8601 to the microsecond, UTC
    start = np.datetime64(REFERENCE_START.replace(tzinfo=None), "us")
    micros = np.round(r["day"].to_numpy(dtype=float) * 86_400e6).astype("timedelta64[us]")
    submitted = np.char.add(np.datetime_as_string(start + micros, unit="us"), "+00:00")
    # one ID per person, or per (person, platform) as the collection service's are
    ids = (r["worker"].to_numpy() if world.scenario.experiment.linked_across_platforms
           else (r["worker"].astype(str) + "@" + r["platform"].astype(str)).to_numpy())
    frame = pd.DataFrame({
        "worker_hash": ids,
        "wave": r["wave"].to_numpy(),
        "platform": plats,
        "submitted_at": submitted,
        "completion_code": [f"SIM{i:06d}" for i in range(len(r))],
        "language": "en",
        "frequency": r["frequency"].to_numpy(),
        "platforms_registered": (r["platforms_registered"].to_numpy() if world.unstated is None
                                 else np.where(world.unstated[idx], "",
                                               r["platforms_registered"].to_numpy(dtype=object))),
        "platforms_last_month": last_month,
        "hours_per_week": hours,
        "earnings_band": _earnings(hours),
        "country": _countries(r, country),
        "attention_answer": r["attention"].to_numpy() if "attention" in r else "rarely",
        "attention_passed": (r["attention"].to_numpy() == "rarely") if "attention" in r
        else True,
    }, columns=RESPONSE_COLUMNS)
    if world.scenario.experiment.started_column:
        frame["started_month"] = _started_months(r, world.scenario.experiment.start_misdated)
    return frame


#: The first day a misdated start can fall on: a month of the period after its first, so
#: that it reads as a start during the period whatever day of the month is taken.
MISDATED_FROM = 31


def _started_months(r: pd.DataFrame, misdated: float = 0.0) -> np.ndarray:
    """The month of each respondent's first micro-task, as the collection service asks it
    (``YYYY-MM``): their arrival's, for those who arrived during the reference period
    (which starts on :data:`REFERENCE_START`); for the others, a month 1 to 51 months
    before it, spread by the person's index (no random draw, so that the rest of the
    country is the scenario's without the column), except for a share ``misdated`` of
    them, also picked by index, who give a day between :data:`MISDATED_FROM` and their
    first answer (nobody names a start after the day they answer; those who first answer
    before that day cannot misdate)."""
    began = r["began"].to_numpy(dtype=float)
    index = r["index"].to_numpy(dtype=np.int64)
    before = 30.0 + (index * 7919) % 1530
    days = np.where(began > 0, began, -before)
    if misdated > 0:   # a person's pick and day from their index (an integer hash)
        first = r.groupby("index")["day"].transform("min").to_numpy(dtype=float)
        mixed = (index * 2654435761) % 4294967296
        room = np.floor(first) - MISDATED_FROM
        wrong = (began <= 0) & (mixed % 10007 < misdated * 10007) & (room > 0)
        spread = (mixed // 10007) % 100_000 / 100_000
        days = np.where(wrong, MISDATED_FROM + np.floor(spread * np.maximum(room, 0)), days)
    start = np.datetime64(REFERENCE_START.replace(tzinfo=None), "D")
    when = start + np.floor(days).astype("timedelta64[D]")
    return np.datetime_as_string(when, unit="M")


#: Where the simulated workers abroad say they live, in turn (the first two not the
#: country's own).
ABROAD = ("MG", "MA", "SN")


def _countries(r: pd.DataFrame, country: str) -> np.ndarray | str:
    """Each answer's country of residence: the study's country, one of :data:`ABROAD`
    for the workers abroad (by their index). Without workers abroad, a country with no
    two-letter code (the placeholder ``XX``) answers ``ZZ``, "another country", as the
    collection service takes it."""
    if "abroad" not in r:
        return country if len(country) == 2 and country != "XX" else "ZZ"
    home = country
    codes = np.array([c for c in ABROAD if c != home][:2], dtype=object)
    return np.where(r["abroad"].to_numpy(dtype=bool), codes[r["index"].to_numpy() % 2], home)


def _plain(v: object) -> object:
    """A value tomli-w can write: numpy scalars as Python numbers, ``None`` fields left out."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items() if x is not None}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def _quantity(value: float, rel: float, lower_bound: float | None = None,
              upper_bound: float | None = None) -> dict:
    lo, hi = value * (1 - rel), value * (1 + rel)
    if lower_bound is not None:
        lo = max(lo, lower_bound)
    if upper_bound is not None:
        hi = min(hi, upper_bound)
    q = {"value": value}
    if rel > 0:
        q.update(low=lo, high=hi)
    q.update(status="simulated", source="simulation")
    return q


def _stated(value: float, low: float | None, high: float | None) -> dict:
    """A quantity the scenario makes its study state, with the ends of its range it gives."""
    ends = {k: v for k, v in (("low", low), ("high", high)) if v is not None}
    return {"value": value, **ends, "status": "simulated", "source": "simulation"}


def study_toml(world: World, responses: str = "responses.csv") -> str:
    """The study file of a simulated study (pipeline format)."""
    import tomli_w

    sc = world.scenario
    a = sc.assumptions
    exp = sc.experiment
    if a.multihoming == "estimate":
        mh = {"value": "estimate", "status": "simulated", "source": "simulation"}
    else:
        mh = _quantity(float(a.multihoming), a.multihoming_range, lower_bound=1.0)
    platforms = []
    for j, name in enumerate(world.platforms):
        platform: dict = {"name": name,
                          "declared": _quantity(float(world.declared[j]), a.declared_range)}
        spec = sc.platforms[j]
        if spec.declared_active_days is not None and spec.declared_active_stated:
            platform["declared_active_days"] = spec.declared_active_days
        if spec.declared_day is not None and spec.declared_day_stated:
            platform["declared_day"] = spec.declared_day
        if world.audience[j] > 0:
            audience = {"visitors": _quantity(float(world.audience[j]), a.audience_range)}
            if a.worker_share < 1 or a.worker_share_low is not None:
                audience["worker_share"] = _stated(a.worker_share, a.worker_share_low,
                                                   a.worker_share_high)
            platform["audience"] = audience
        platforms.append(platform)
    study = {
        "study": {
            "title": f"Simulated country: scenario {sc.scenario.name}",
            "country": sc.scenario.country, "reference_period": "simulated",
            "simulated": True,
            "description": (sc.scenario.description or f"Scenario {sc.scenario.name}").strip(),
        },
        "settings": {"draws": a.draws, "seed": 1, "level": 0.95},
        "sources": [{"id": "simulation",
                     "citation": f"crowdcensus simulate, scenario {sc.scenario.name}"}],
        "assumptions": {"multihoming": mh, **{
            name: _stated(getattr(a, name), getattr(a, f"{name}_low"),
                          getattr(a, f"{name}_high"))
            for name in ("dormant_share", "active_nonworker_share", "visitors_per_person",
                         "answer_again", "arrival_share", "departure_share",
                         "start_misdated")
            if getattr(a, name) is not None}},
        "platforms": platforms,
        "experiment": {
            "responses": responses, "format": "crowdcensus",
            "tiers": ["very_active", "regular", "occasional"], "capture": a.capture,
            "churn": a.churn,
            **({} if a.take_up_slope is None else {"take_up_slope": a.take_up_slope}),
            **({} if a.registration_classes is None
               else {"registration_classes": a.registration_classes}),
            "columns": {"worker": "worker_hash", "wave": "wave", "platform": "platform",
                        "frequency": "frequency", "registered_on": "platforms_registered",
                        **({"country": "country" if exp.country_column else ""}
                           if sc.population.abroad > 0 else {}),
                        **({"attention": ""} if not exp.attention_column else {})},
            "schedule": {
                "reference_days": sc.scenario.reference_days, "wave_days": exp.wave_days,
                **({"reference_start": REFERENCE_START.date()} if exp.started_column else {}),
                "wave_starts": [exp.first_day + w * exp.spacing_days for w in range(exp.waves)],
                **({"posted": sc.posted_in_waves()}
                   if exp.posted_waves is not None and exp.posting_stated else {}),
            },
            "reach": {
                "posting_weeks": sum(exp.days(w) for w in range(exp.waves)) / 7,
                "p_week": {cat: _quantity(p, exp.reach_range, upper_bound=1.0)
                           for cat, p in world.reach_p_week.items()},
            },
        },
    }
    header = (f"# SIMULATED study made by `crowdcensus simulate` from scenario "
              f"{sc.scenario.name!r}.\n"
              "# Nothing here is real. The truth is in truth.json beside this file.\n\n")
    return header + tomli_w.dumps(_plain(study))


def write_simulation(world: World, out: str | Path, seed: int | None = None) -> Path:
    """Write the simulated study and its truth into ``out``; return the study file's path."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    export_frame(world).to_csv(out / "responses.csv", index=False)
    pd.DataFrame({"platform": world.platforms, "declared": world.declared}).to_csv(
        out / "declared.csv", index=False)
    pd.DataFrame({"platform": world.platforms, "monthly_unique_visitors": world.audience}).to_csv(
        out / "audience.csv", index=False)
    study = out / "study.toml"
    study.write_text(study_toml(world), encoding="utf-8")
    truth = {"scenario": world.scenario.scenario.name, "seed": seed, **world.truth()}
    (out / "truth.json").write_text(json.dumps(truth, indent=2), encoding="utf-8")
    return study
