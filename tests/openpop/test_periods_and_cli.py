"""Event logs to per-period histories, and the ``crowdcensus estimate open`` command."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdcensus.capture.periods import histories_from_events
from crowdcensus.errors import InputError
from tests.cli_runner import run_cli

from . import reference as ref

DATA = Path(__file__).parent / "data"


def run(*args):
    """``crowdcensus estimate open ARGS...`` in-process (exit code, stdout, stderr)."""
    return run_cli("estimate", "open", *args)


def event_log():
    return pd.DataFrame({
        "worker_hash": ["a", "a", "b", "c", "a", "c", "d"],
        "submitted_at": ["2024-01-03T10:00:00Z", "2024-01-20T09:00:00Z", "2024-01-05",
                         "2024-02-11", "2024-04-01", "2024-04-30", "2024-04-02"],
        "wave": [1, 1, 1, 2, 4, 4, 4],
    })


def test_monthly_periods_keep_empty_months_and_count_once_per_period():
    h = histories_from_events(event_log(), "worker_hash", time="submitted_at", period="month")
    assert h.occasions == ("2024-01", "2024-02", "2024-03", "2024-04")
    rows = {tuple(r): c for r, c in zip(h.histories.tolist(), h.counts.tolist(), strict=True)}
    assert rows == {(1, 0, 0, 1): 1, (1, 0, 0, 0): 1, (0, 1, 0, 1): 1, (0, 0, 0, 1): 1}
    assert h.per_occasion().tolist() == [2, 1, 0, 3]


def test_times_written_day_first_give_the_same_periods():
    """A French export writes 20/01/2024 09:00: read month first, the third of April
    (03/04) fell in March. Dates that read both ways (no day after the 12th) are refused,
    since the periods would depend on a guess."""
    french = event_log()
    french["submitted_at"] = pd.to_datetime(french["submitted_at"], utc=True,
                                            format="ISO8601").dt.strftime("%d/%m/%Y %H:%M")
    iso = histories_from_events(event_log(), "worker_hash", time="submitted_at")
    h = histories_from_events(french, "worker_hash", time="submitted_at")
    assert h.occasions == iso.occasions
    assert h.histories.tolist() == iso.histories.tolist()
    assert h.counts.tolist() == iso.counts.tolist()
    early = french[french["submitted_at"].str[:2].astype(int) <= 12]
    with pytest.raises(InputError, match="column 'submitted_at': dates such as .* read both "
                                         "day first and month first"):
        histories_from_events(early, "worker_hash", time="submitted_at")


def test_fixed_length_periods_and_wave_column():
    # 30-day periods from 1 January 2024: 30 April starts the fifth period (leap year)
    h = histories_from_events(event_log(), "worker_hash", time="submitted_at", period="30D",
                              origin="2024-01-01")
    assert h.occasions == ("2024-01-01", "2024-01-31", "2024-03-01", "2024-03-31", "2024-04-30")
    assert h.per_occasion().tolist() == [2, 1, 0, 2, 1]
    w = histories_from_events(event_log(), "worker_hash", wave="wave")
    assert w.occasions == ("1", "2", "3", "4")
    assert w.per_occasion().tolist() == [2, 1, 0, 3]


def test_wave_labels_in_natural_order():
    """Twelve monthly waves labelled m1..m12: a worker seen in m2 and m10 only has
    the history of the second and tenth periods (a string sort put m10 second)."""
    labels = [f"m{i}" for i in range(1, 13)]
    log = pd.DataFrame({"worker_hash": ["x"] * 2 + [f"w{i}" for i in range(12)],
                        "wave": ["m10", "m2", *reversed(labels)]})
    h = histories_from_events(log, "worker_hash", wave="wave")
    assert h.occasions == tuple(labels)
    assert [1 if j in (1, 9) else 0 for j in range(12)] in h.histories.tolist()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time": "submitted_at", "wave": "wave"}, "either"),
        ({"time": "nope"}, "missing column"),
        ({"time": "submitted_at", "period": "fortnightish"}, "period"),
    ],
)
def test_bad_event_log_options(kwargs, message):
    with pytest.raises(InputError, match=message):
        histories_from_events(event_log(), "worker_hash", **kwargs)


def test_cli_json_matches_the_reference_and_writes_a_plot(tmp_path):
    png = tmp_path / "open.png"
    r = run(DATA / "duck.csv", "--format", "json", "--plot", png)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["df"] == ref.FIT["df"]
    assert d["deviance"] == pytest.approx(ref.FIT["deviance"], abs=0.005)
    assert d["periods"][1]["abundance"] == pytest.approx(ref.ABUNDANCE[1][0], rel=ref.RTOL_ESTIMATE)
    assert d["intervals"][0]["survival_se"] == pytest.approx(ref.SURVIVAL[0][1],
                                                             rel=ref.RTOL_STDERR)
    assert d["total"]["estimate"] == pytest.approx(ref.TOTAL[0], abs=0.5)
    assert d["periods"][0]["capture_prob"] is None
    assert png.stat().st_size > 1000


def test_cli_reads_an_event_log(tmp_path):
    rng = np.random.default_rng(1)
    rows = []
    for worker in range(400):
        first = rng.integers(0, 3)
        for week in range(first, min(6, first + rng.integers(2, 6))):
            if rng.random() < 0.6:
                day = pd.Timestamp("2024-03-04T12:00:00Z") + pd.Timedelta(days=7 * int(week))
                rows.append((f"h{worker:04d}", day.isoformat()))
    f = tmp_path / "events.csv"
    pd.DataFrame(rows, columns=["worker", "ts"]).to_csv(f, index=False)
    r = run(f, "--worker", "worker", "--time", "ts", "--period", "7D")
    assert r.returncode == 0, r.stderr
    assert "Half-life" in r.stdout and "Total ever present" in r.stdout


def test_cli_too_few_periods_is_one_line(tmp_path):
    f = tmp_path / "two.csv"
    f.write_text("a,b,freq\n1,0,3\n1,1,2\n0,1,4\n")
    r = run(f)
    assert r.returncode != 0 and r.stdout == ""
    assert "at least 3 periods" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_spaces_around_ids_and_labels_make_no_other_worker_or_period():
    """An event log typed or pasted by hand: "a " is a, " w2" is w2."""
    from crowdcensus.capture.histories import CaptureHistories

    log = pd.DataFrame({"worker_hash": ["a", "a ", " b", "b", "c"],
                        "wave": ["w1", " w2", "w1 ", "w2", "w2"]})
    h = CaptureHistories.from_events(log, "worker_hash", "wave")
    assert h.occasions == ("w1", "w2")
    rows = {tuple(r): c for r, c in zip(h.histories.tolist(), h.counts.tolist(), strict=True)}
    assert rows == {(1, 1): 2, (0, 1): 1}
    w = histories_from_events(log, "worker_hash", wave="wave")
    assert w.occasions == ("w1", "w2") and w.per_occasion().tolist() == [2, 3]
    numbers = CaptureHistories.from_events(pd.DataFrame({"id": [1, 1, 2], "t": [1, 2, 2]}),
                                           "id", "t")
    assert numbers.occasions == ("1", "2") and numbers.n_captured == 2
