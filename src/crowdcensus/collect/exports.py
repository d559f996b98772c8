"""Exports: responses and capture histories, as CSV, Parquet or JSON.

Nothing exported identifies a worker. The responses export carries a
``worker_hash`` column -- the name the study file's ``[experiment.columns]``
expects by default -- holding a per-study pseudonym: a second HMAC, keyed with
the service's secret, of the stored hash and the study id. It follows a person
across the waves of a study; it is not the stored hash, so exports of two
studies cannot be joined on it, nor can an export be joined to the database.
Capture histories carry no identifier at all: one 0/1 column per occasion and a
``freq`` count, the format ``crowdcensus estimate closed FILE`` reads.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import math
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, func, or_, select

from crowdcensus.capture.histories import CaptureHistories
from crowdcensus.collect.models import responses, studies, wave_occasion, waves
from crowdcensus.errors import InputError

FORMATS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet",
           "json": "application/json"}

RESPONSE_COLUMNS = [
    "worker_hash", "wave", "platform", "submitted_at", "completion_code", "language",
    "frequency", "platforms_registered", "platforms_last_month", "hours_per_week",
    "earnings_band", "country", "attention_answer", "attention_passed", "started_month",
]


def _pseudonym(secret: bytes, study_id: int, worker_hash: str) -> str:
    msg = f"export:{study_id}:{worker_hash}".encode()
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()[:32]


def study_waves(conn: Connection, study_id: int, platform: str | None = None,
                opened_by: datetime | None = None) -> pd.DataFrame:
    """The waves of a study in occasion order (opening time, then creation), with the
    occasion each belongs to (its own, or its label when it has none).

    With ``opened_by``, only the waves open by then (or without an opening time).
    """
    columns = ["id", "label", "occasion", "platform", "opens_at", "closes_at",
               "target_responses"]
    query = select(*(wave_occasion.label(c) if c == "occasion" else waves.c[c]
                     for c in columns)).where(waves.c.study_id == study_id)
    if platform:
        query = query.where(waves.c.platform == platform)
    if opened_by is not None:
        query = query.where(or_(waves.c.opens_at.is_(None), waves.c.opens_at <= opened_by))
    frame = pd.DataFrame(conn.execute(query).mappings().all(), columns=columns)
    if len(frame):
        frame["_open"] = pd.to_datetime(frame["opens_at"], utc=True)
        frame = frame.sort_values(["_open", "id"], na_position="last").drop(columns="_open")
    return frame.reset_index(drop=True)


def _check_study(conn: Connection, study_id: int) -> None:
    if conn.execute(select(studies.c.id).where(studies.c.id == study_id)).first() is None:
        raise LookupError(f"no study {study_id}")


def responses_frame(conn: Connection, secret: bytes, study_id: int,
                    wave_label: str | None = None, platform: str | None = None) -> pd.DataFrame:
    """One row per response of a study, pseudonymised (see module docstring); ``wave`` is
    the wave's occasion (waves posted at once on several platforms share one).
    ``wave_label``: only that occasion's responses, or that wave's."""
    _check_study(conn, study_id)
    query = (
        select(responses, wave_occasion.label("wave"), waves.c.platform)
        .join(waves, responses.c.wave_id == waves.c.id)
        .where(waves.c.study_id == study_id)
        .order_by(responses.c.id)
    )
    if wave_label:
        named = or_(wave_occasion == wave_label, waves.c.label == wave_label)
        if conn.execute(select(waves.c.id).where(waves.c.study_id == study_id, named)
                        ).first() is None:   # an empty export said nothing of the typo
            raise LookupError(f"study {study_id} has no wave or occasion {wave_label!r}")
        query = query.where(named)
    if platform:
        query = query.where(waves.c.platform == platform)
    rows = conn.execute(query).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows])
    if frame.empty:
        return pd.DataFrame(columns=RESPONSE_COLUMNS)
    frame["worker_hash"] = [_pseudonym(secret, study_id, h) for h in frame["worker_hash"]]
    frame["submitted_at"] = pd.to_datetime(frame["submitted_at"], utc=True)
    frame["attention_passed"] = frame["attention_passed"].astype(bool)
    return frame[RESPONSE_COLUMNS]


def histories_frame(conn: Connection, study_id: int, platform: str | None = None,
                    opened_by: datetime | None = None) -> pd.DataFrame:
    """Capture histories of a study: one 0/1 column per wave and a ``freq`` column.

    The occasions are the study's waves (those of ``platform`` only, if given)
    in opening order, named by their occasions (waves posted at once on several
    platforms are one occasion); with ``opened_by``, only those
    open by then -- a wave that has not opened yet (a recurring schedule
    creates them in advance) has caught nobody and is not an occasion yet.
    A worker is the same individual across waves when the HMAC of their
    platform ID is the same, so histories only link waves of one platform: a
    worker who answers on two platforms has two histories.

    Raises
    ------
    InputError
        When the study has no wave or no response yet.
    """
    _check_study(conn, study_id)
    wave_table = study_waves(conn, study_id, platform, opened_by)
    if wave_table.empty:
        raise InputError("the study has no wave" + (f" on {platform}" if platform else ""))
    events = pd.DataFrame(
        conn.execute(
            select(responses.c.worker_hash, responses.c.wave_id)
            .where(responses.c.wave_id.in_(wave_table["id"].tolist()))
        ).all(),
        columns=["worker_hash", "wave_id"],
    )
    if events.empty:
        raise InputError("no responses yet: nothing to build capture histories from")
    occasion_of = dict(zip(wave_table["id"], wave_table["occasion"], strict=True))
    events["wave"] = events["wave_id"].map(occasion_of)
    hist = CaptureHistories.from_events(events, "worker_hash", "wave",
                                        occasions=list(dict.fromkeys(wave_table["occasion"])))
    return hist.to_frame(freq="freq")


def serialise(frame: pd.DataFrame, fmt: str) -> bytes:
    """``frame`` as CSV, Parquet or JSON (records) bytes."""
    if fmt == "csv":
        return frame.to_csv(index=False).encode()
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        return buf.getvalue()
    if fmt == "json":
        out = frame.copy()
        for col in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[col]):
                out[col] = out[col].map(lambda v: v.isoformat() if pd.notna(v) else None)
        # a missing value is JSON's null (NaN is not JSON: strict readers refuse it)
        out = out.astype(object).where(out.notna(), None)
        return json.dumps(out.to_dict(orient="records"), default=str, allow_nan=False).encode()
    raise InputError(f"unknown format {fmt!r} (use csv, parquet or json)")


def schedule_table(conn: Connection, study_id: int, reference_start: datetime | None = None,
                   reference_days: float = 364, platform: str | None = None
                   ) -> tuple[dict, datetime]:
    """The study file's ``[experiment.schedule]`` from the service's record of the waves
    (``platform``'s only, if given, as the responses export).

    A wave (an occasion: the responses export's ``wave``, one or several platforms' waves)
    starts at its opening time and ends at its closing time; where the service holds
    neither, at its first and last answer.
    The waves run in the order ``crowdcensus run`` reads them (the natural order of their
    occasions' names), each ``wave_days`` long (in whole days, rounded up: one number
    when every wave lasted as long, else one per wave), starting
    ``wave_starts`` days after ``reference_start`` (default: ``reference_days`` before
    the last wave ends); ``posted`` gives each wave's platform.

    Returns the table (with ``labels``, the waves in that order, which the study file
    does not hold) and the reference period's start.

    Raises
    ------
    InputError
        When the study has no wave, a wave has neither times nor answers, the labels
        sort in another order than the waves ran, waves overlap, or the waves do not fit
        in the reference period.
    """
    from crowdcensus.capture.histories import occasion_order

    _check_study(conn, study_id)
    table = study_waves(conn, study_id, platform)
    if table.empty:
        raise InputError(f"study {study_id} has no wave" + (f" on {platform}" if platform
                                                             else ""))
    answered = pd.DataFrame(conn.execute(
        select(responses.c.wave_id, func.min(responses.c.submitted_at),
               func.max(responses.c.submitted_at))
        .where(responses.c.wave_id.in_(table["id"].tolist()))
        .group_by(responses.c.wave_id)).all(), columns=["id", "first", "last"])
    table = table.merge(answered, on="id", how="left")
    for col in ("opens_at", "closes_at", "first", "last"):
        table[col] = pd.to_datetime(table[col], utc=True)
    table["start"] = table["opens_at"].fillna(table["first"])
    table["end"] = table["closes_at"].fillna(table["last"])
    waves = table.groupby("occasion").agg(start=("start", "min"), end=("end", "max"),
                                       platforms=("platform", lambda p: sorted(set(p))))
    missing = waves.index[waves["start"].isna() | waves["end"].isna()].tolist()
    if missing:
        raise InputError(f"wave {missing[0]}: the service holds no opening or closing time "
                         "and no answer for it, so its dates are not known")
    ran = waves.sort_values("start", kind="stable")
    for (a, one), (b, two) in zip(ran.iterrows(), ran.iloc[1:].iterrows(), strict=False):
        if two["start"] < one["end"]:
            raise InputError(_overlap(a, b, platform, "ran at the same time"))
    ran = ran.index.tolist()
    order = occasion_order(ran)
    waves = waves.loc[order]
    if ran != order:
        raise InputError(f"the waves' labels sort as {', '.join(order)} but they ran as "
                         f"{', '.join(ran)}; `crowdcensus run` reads the labels' order: "
                         "rename the waves so that it is the order they ran in")
    day = pd.Timedelta(days=1)
    lengths = [max(1, math.ceil(d / day - 1e-9)) for d in waves["end"] - waves["start"]]
    start = (pd.Timestamp(reference_start) if reference_start is not None
             else waves["end"].max() - reference_days * day)
    if start.tzinfo is None:
        start = start.tz_localize("UTC")
    starts = [round((s - start) / day, 1) for s in waves["start"]]
    for i in range(1, len(starts)):
        if starts[i] < starts[i - 1] + lengths[i - 1]:
            raise InputError(_overlap(order[i - 1], order[i], platform,
                                      "overlap once the first's length is rounded up to "
                                      f"whole days ({lengths[i - 1]})"))
    if starts[0] < 0 or starts[-1] + lengths[-1] > reference_days:
        raise InputError(f"the waves ({waves['start'].min():%Y-%m-%d} to "
                         f"{waves['end'].max():%Y-%m-%d}) do not fit in the {reference_days:g} "
                         f"days from {start:%Y-%m-%d}: move --reference-start or lengthen "
                         "--reference-days")
    schedule = {"reference_days": int(reference_days) if float(reference_days).is_integer()
                else reference_days,
                "wave_days": lengths[0] if len(set(lengths)) == 1 else lengths,
                "wave_starts": starts, "posted": waves["platforms"].tolist()}
    return {**schedule, "labels": order}, start.to_pydatetime()


def _overlap(a: str, b: str, platform: str | None, how: str) -> str:
    return (f"waves {a} and {b} {how}: the study file's schedule takes waves that follow one "
            "another" + ("" if platform else "; waves posted at once on several platforms "
                         "are one occasion: give them the same occasion when creating them"))


def schedule_toml(conn: Connection, study_id: int, reference_start: datetime | None = None,
                  reference_days: float = 364, platform: str | None = None) -> str:
    """:func:`schedule_table` as TOML to paste into a study file, its reference period in
    comments."""
    import tomli_w

    schedule, start = schedule_table(conn, study_id, reference_start, reference_days,
                                     platform)
    labels = schedule.pop("labels")
    title = conn.execute(select(studies.c.title).where(studies.c.id == study_id)).scalar()
    end = start + pd.Timedelta(days=reference_days)
    head = (f"# The waves of study {study_id} ({title}) as the collection service recorded "
            "them,\n# for the study file (crowdcensus export --kind schedule). The reference "
            f"period:\n# {reference_days:g} days from {start:%Y-%m-%d} to {end:%Y-%m-%d}; "
            "wave_starts count days from its start.\n# The waves, in the order "
            f"crowdcensus run reads them: {', '.join(labels)}.\n")
    # the period's first day, against which the answers on when respondents began are read
    schedule = {"reference_start": start.date(), **schedule}
    return head + tomli_w.dumps({"experiment": {"schedule": schedule}})
