"""Readers: platform figures from a table, and responses without a registered-on column."""

from __future__ import annotations

import shutil
from datetime import date

import numpy as np
import pandas as pd
import pytest

from crowdcensus.errors import InputError
from crowdcensus.pipeline import run_study
from crowdcensus.study import load_study

from .conftest import SIMULATED

HEAD = """
[study]
title = "T"
country = "FR"
reference_period = "2020"
[assumptions.multihoming]
value = 1.25
status = "assumed"
"""


def _write(tmp_path, table: str, extra: str = "") -> object:
    (tmp_path / "platforms.csv").write_text(table)
    p = tmp_path / "study.toml"
    p.write_text('platforms_file = "platforms.csv"\n' + HEAD + extra)
    return p


def test_platform_table_is_read_like_inline_platforms(tmp_path):
    p = _write(tmp_path,
               "name,declared,declared_low,declared_high,declared_status,visitors,"
               "visitors_status,worker_share,worker_share_low,worker_share_status\n"
               "A,1000,900,1100,published,400,derived,0.8,0.6,assumed\n"
               "B,500,,,published,100,derived,,,\n")
    study = load_study(p)
    assert [pl.name for pl in study.platforms] == ["A", "B"]
    a, b = study.platforms
    assert a.declared.range == (900, 1100) and a.declared.status == "published"
    assert a.audience.worker_share.low == 0.6
    assert b.audience.worker_share is None and b.declared.low is None
    r = run_study(study, draws=100)
    assert r.methods["declared"]["occasional"].estimate == pytest.approx(1500 / 1.25)
    assert r.methods["audience"]["regular"].estimate == pytest.approx((320 + 100) / 1.25)


def test_a_platform_table_from_a_french_spreadsheet_reads_the_same(tmp_path):
    """Separated by semicolons, with decimal commas and thousands grouped by (no-break)
    spaces or dots, as French spreadsheets save "CSV": the same platforms as the plain
    table. (Commas were dropped as thousands separators: 0,8 was read as 8.)"""
    header = ("name,declared,declared_low,declared_status,visitors,visitors_status,"
              "worker_share,worker_share_low,worker_share_high,worker_share_status\n")
    plain = load_study(_write(tmp_path, header + "A,1234567,1000000.5,published,4000,"
                              "derived,0.8,0.65,0.9,assumed\n"))
    french = load_study(_write(tmp_path, header.replace(",", ";") + "A;1\u202f234\u202f567;"
                               "1.000.000,5;published;4 000;derived;0,8;0,65;0,9;assumed\n"))
    assert french.platforms == plain.platforms
    assert french.platforms[0].audience.worker_share.low == 0.65


def test_platform_table_errors_name_line_and_column(tmp_path):
    p = _write(tmp_path, "name,declared,declared_low,declared_status\n"
                         "A,1000,900,published\nB,500,600,published\n")
    with pytest.raises(InputError) as info:
        load_study(p)
    assert str(info.value) == (f"{p}: platforms.csv line 3, column declared_low: must not "
                               "exceed value (500)")
    p = _write(tmp_path, "name,declared,declared_status\nA,lots,published\n")
    with pytest.raises(InputError, match="platforms.csv line 2, column declared: must be a "
                                         "number"):
        load_study(p)
    p = _write(tmp_path, "name,declared\nA,1000\n")
    with pytest.raises(InputError, match="platforms.csv line 2, column declared_status: is "
                                         "required"):
        load_study(p)
    p = _write(tmp_path, "name,declard\nA,1000\n")
    with pytest.raises(InputError, match="unknown column 'declard'"):
        load_study(p)


def _simulated_copy(tmp_path, blank_registered: bool):
    for f in ("study.toml", "responses.csv"):
        shutil.copy(SIMULATED.parent / f, tmp_path / f)
    if blank_registered:
        df = pd.read_csv(tmp_path / "responses.csv")
        df["platforms_registered"] = ""
        df.to_csv(tmp_path / "responses.csv", index=False)
    return tmp_path / "study.toml"


def test_multihoming_estimate_needs_reported_platforms(tmp_path):
    study = _simulated_copy(tmp_path, blank_registered=True)
    with pytest.raises(InputError, match="cannot be estimated"):
        run_study(study, draws=100)


def test_responses_without_registered_column(tmp_path):
    study = _simulated_copy(tmp_path, blank_registered=False)
    text = study.read_text().replace('value = "estimate"', "value = 1.3")
    text = text.replace('format = "crowdcensus"',
                        'format = "crowdcensus"\ncolumns = { registered_on = "" }')
    study.write_text(text)
    df = pd.read_csv(tmp_path / "responses.csv").drop(columns="platforms_registered")
    # answer times in which w2 ran before w1: the report warns that the labels mislead
    month = {"w1": 2, "w2": 1, "w3": 3, "w4": 4, "w5": 5, "w6": 6}
    df["submitted_at"] = [f"2026-{month[w]:02d}-15T12:00:00Z" for w in df["wave"]]
    df.to_csv(tmp_path / "responses.csv", index=False)
    r = run_study(study, draws=100)
    assert r.intermediates["multihoming"].estimate == 1.3
    assert r.responses.respondents["n_registered"].isna().all()
    assert any("put them in the order w2, w1, w3" in w for w in r.warnings)


def test_warning_when_no_worker_is_linked_across_platforms():
    """Per-platform pseudonyms (as the service makes them) hide cross-platform recaptures."""
    import pandas as pd

    from crowdcensus.capture.histories import CaptureHistories
    from crowdcensus.sources.responses import Responses

    def responses(rows):
        events = pd.DataFrame(rows, columns=["worker", "wave", "platform"])
        hist = CaptureHistories.from_events(events, "worker", "wave")
        return Responses(events, pd.DataFrame({"category": ["weekly"] * hist.n_captured}), hist)

    split = responses([("a", 1, "P"), ("a", 2, "P"), ("b", 1, "Q"), ("c", 2, "Q")])
    assert "no worker is seen on two" in split.platform_linking_warning()
    linked = responses([("a", 1, "P"), ("a", 2, "Q"), ("b", 1, "Q")])
    assert linked.platform_linking_warning() is None
    single = responses([("a", 1, "P"), ("b", 2, "P")])
    assert single.platform_linking_warning() is None


def test_responses_keep_the_waves_in_their_natural_order():
    """Responses labelled w1..w12: the histories' columns run w1, w2, ..., w12."""
    from crowdcensus.sources.responses import parse_responses

    waves = [f"w{i}" for i in range(1, 13)]
    rows = [(f"x{i}", w, "P", "Weekly") for i, w in enumerate(reversed(waves))]
    rows += [("a", "w2", "P", "Weekly"), ("a", "w10", "P", "Weekly")]
    frame = pd.DataFrame(rows, columns=["id", "wave", "site", "how often"])
    r = parse_responses(frame, {"worker": "id", "wave": "wave", "platform": "site",
                                "frequency": "how often"})
    assert list(r.histories.occasions) == waves
    caught = {tuple(int(j) for j in (row > 0).nonzero()[0]) for row in r.histories.expand()}
    assert (1, 9) in caught      # a's second and tenth waves


FRENCH_MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                 "septembre", "octobre", "novembre", "décembre"]


@pytest.mark.parametrize("write", [
    lambda d: d.strftime("%d/%m/%Y"), lambda d: d.strftime("%m/%d/%Y"),
    lambda d: d.strftime("%d.%m.%y"), lambda d: d.strftime("%B %Y"),
    lambda d: d.strftime("%b %d, %Y"), lambda d: f"{FRENCH_MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{d.day} {FRENCH_MONTHS[d.month - 1]} {d.year}"],
    ids=["day-first", "month-first", "dotted", "month-year", "abbreviated", "mois-année",
         "jour-mois-année"])
def test_waves_named_by_their_dates_or_months_run_in_calendar_order(write):
    """Waves labelled by their dates (28/05/2025) or months (mai 2025): a label sort put
    04/06 before 28/05 and April before January, so that on a simulated `churn` study the
    regular tier came out 8-14% low. The labels now run in calendar order, wherever the
    rows come in the file."""
    from crowdcensus.capture.histories import occasion_order
    from crowdcensus.sources.responses import parse_responses

    rng = np.random.default_rng(7)
    for _ in range(20):
        days = np.sort(rng.choice(np.arange(0, 700, 31 if "%B" in str(write) else 1), 5,
                                  replace=False))
        dates = [pd.Timestamp("2025-01-01") + pd.Timedelta(days=int(d)) for d in days]
        labels = [write(d) for d in dates]
        if len(set(labels)) < len(labels):
            continue     # two dates in one month, written as the month
        shuffled = list(rng.permutation(labels))
        ordered = occasion_order(shuffled)
        positions = [labels.index(x) for x in ordered]
        assert positions == sorted(positions) or _ambiguous(labels), (ordered, labels)
    rows = [(f"x{i}", w, "P", "Weekly") for i, w in enumerate(reversed(labels))]
    frame = pd.DataFrame(rows, columns=["id", "wave", "site", "how often"])
    r = parse_responses(frame, {"worker": "id", "wave": "wave", "platform": "site",
                                "frequency": "how often"})
    assert list(r.histories.occasions) == labels or _ambiguous(labels)


def _ambiguous(labels: list[str]) -> bool:
    """Numeric dates with no day after the 12th whose two readings order them otherwise."""
    from crowdcensus.capture.histories import calendar_keys

    return calendar_keys(labels) is None


@pytest.mark.parametrize("write", [
    lambda d: FRENCH_MONTHS[d.month - 1], lambda d: d.strftime("%B"),
    lambda d: d.strftime("%d %b"), lambda d: f"{d.day} {FRENCH_MONTHS[d.month - 1]}"],
    ids=["mois", "month", "day-month", "jour-mois"])
def test_months_named_without_a_year_run_across_new_year(write):
    """Waves named by month with no year (novembre, décembre, janvier): a calendar sort put
    January first, so that on a simulated `churn` study relabelled octobre ... mars the
    tiers came out 9-16% low. A study's waves span less than a year: the year turns in the
    longest stretch of the calendar with no wave."""
    from crowdcensus.capture.histories import occasion_order
    from crowdcensus.sources.responses import parse_responses

    rng = np.random.default_rng(11)
    for _ in range(30):
        start = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 365)))
        step = 31 if write(start).isalpha() else int(rng.integers(3, 40))
        count = int(rng.integers(2, 7))
        dates = [start + pd.Timedelta(days=step * i) for i in range(count)]
        labels = [write(d) for d in dates]
        if len(set(labels)) < count or (dates[-1] - dates[0]).days > 180:
            continue    # two waves in one month written as the month; or half a year
        assert occasion_order(list(rng.permutation(labels))) == labels
    assert occasion_order(["janvier", "novembre", "décembre", "février"]) == [
        "novembre", "décembre", "janvier", "février"]
    assert occasion_order(["mai", "mars", "avril"]) == ["mars", "avril", "mai"]
    # as far apart one way round the year as the other: the calendar's order
    assert occasion_order(["July", "January"]) == ["January", "July"]
    frame = pd.DataFrame({"id": ["a", "b", "c", "a"], "wave": ["janvier", "décembre",
                                                               "février", "février"],
                          "site": "P", "how often": "Weekly"})
    r = parse_responses(frame, {"worker": "id", "wave": "wave", "platform": "site",
                                "frequency": "how often"})
    assert list(r.histories.occasions) == ["décembre", "janvier", "février"]


def test_labels_that_are_not_all_dates_keep_their_natural_order():
    from crowdcensus.capture.histories import occasion_order

    assert occasion_order(["T2", "T1", "T10"]) == ["T1", "T2", "T10"]
    assert occasion_order(["w2 (mai)", "w1 (juin)"]) == ["w1 (juin)", "w2 (mai)"]
    assert occasion_order(["mai 2025", "w1"]) == ["mai 2025", "w1"]
    # day first or month first cannot be told, and the two orders differ: the labels'
    assert occasion_order(["03/02/2025", "02/03/2025"]) == ["02/03/2025", "03/02/2025"]
    assert occasion_order(["10", "9", "11"]) == ["9", "10", "11"]


def test_hours_with_a_decimal_comma_are_read_and_text_is_refused():
    from crowdcensus.sources.responses import parse_responses

    cols = {"worker": "id", "wave": "wave", "platform": "site", "frequency": "how often",
            "hours": "hours"}
    frame = pd.DataFrame({"id": ["a", "b", "c", "a"], "wave": ["w1", "w1", "w2", "w2"],
                          "site": "P", "how often": "Weekly",
                          "hours": ["1,5", "2.25", "12", "3,5"]})
    r = parse_responses(frame, cols)
    assert r.respondents["hours"].to_dict() == {"a": 1.5, "b": 2.25, "c": 12.0}
    frame.loc[2, "hours"] = "about 3"
    with pytest.raises(InputError, match="'hours' on line 4 is not a number of hours"):
        parse_responses(frame, cols)
    frame.loc[2, "hours"] = "-2"
    with pytest.raises(InputError, match="'hours' on line 4 is negative"):
        parse_responses(frame, cols)
    # as people type them in a free-text field; a blank cell is no answer
    frame["hours"] = ["1h30", "2 h 15", "", "45 min"]
    hours = parse_responses(frame, cols).respondents["hours"]
    assert hours["a"] == 1.5 and hours["b"] == 2.25 and np.isnan(hours["c"])
    frame["hours"] = ["90 min", "1:45", "3 heures", "0,5h"]
    hours = parse_responses(frame, cols).respondents["hours"]
    assert hours.to_dict() == {"a": 1.5, "b": 1.75, "c": 3.0}


@pytest.mark.parametrize("weeks, warned", [(6, False), (12, True)])
def test_warning_when_answers_span_months_but_the_waves_have_no_dates(weeks, warned):
    from types import SimpleNamespace

    from crowdcensus.pipeline import undated_span_warning
    from crowdcensus.sources.responses import parse_responses

    days = [0, 7 * weeks // 2, 7 * weeks]
    frame = pd.DataFrame({"id": ["a", "b", "c", "a"], "wave": ["w1", "w2", "w3", "w3"],
                          "site": "P", "how often": "Weekly",
                          "at": [str(pd.Timestamp("2025-01-01", tz="UTC")
                                     + pd.Timedelta(days=d))
                                 for d in (days[0], days[1], days[2], days[2])]})
    r = parse_responses(frame, {"worker": "id", "wave": "wave", "platform": "site",
                                "frequency": "how often", "submitted": "at"})
    undated = SimpleNamespace(wave_starts=None, churn="auto")
    said = undated_span_warning(undated, r)
    assert (said is not None) == warned
    if warned:
        assert f"over {7 * weeks} days" in said and "experiment.schedule.wave_starts" in said
    # with the waves' dates, or churn stated, the report says the rest
    assert undated_span_warning(SimpleNamespace(wave_starts=[0, 1, 2], churn="auto"), r) is None
    assert undated_span_warning(SimpleNamespace(wave_starts=None, churn=False), r) is None


def test_warning_when_a_platform_brings_no_answer_in_some_waves():
    from crowdcensus.sources.responses import parse_responses

    rows = [(f"a{w}{i}", f"w{w}", "A", "Weekly") for w in (1, 2, 3) for i in range(6)]
    rows += [(f"b{i}", "w2", "B", "Weekly") for i in range(8)]
    rows += [("c", "w1", "C", "Weekly"), ("d", "w3", "C", "Weekly")]   # C: too few to say
    cols = {"worker": "id", "wave": "wave", "platform": "site", "frequency": "how often"}
    r = parse_responses(pd.DataFrame(rows, columns=["id", "wave", "site", "how often"]), cols)
    said = r.posting_gap_warning()
    assert said.startswith("no answer came through B in w1, w3 (8 answers in the others): ")
    assert " C " not in said and "A in" not in said
    # the study says B was posted in w2 only: nothing to say; in w1 and w2: w1 is wrong
    assert r.posting_gap_warning(posted={("w2", "b"), ("w1", "a")}) is None
    said = r.posting_gap_warning(posted={("w1", "b"), ("w2", "b")})
    assert said.startswith("no answer came through B in w1 (8 answers in the others), "
                           "although experiment.schedule.posted lists it there"), said
    rows += [(f"b{i}", "w1", "B", "Weekly") for i in range(6)]
    rows += [(f"e{i}", "w3", "B", "Weekly") for i in range(6)]
    r = parse_responses(pd.DataFrame(rows, columns=["id", "wave", "site", "how often"]), cols)
    assert r.posting_gap_warning() is None


def test_warning_when_wave_labels_do_not_sort_in_time_order():
    from crowdcensus.sources.responses import parse_responses

    columns = {"worker": "id", "wave": "wave", "platform": "site", "frequency": "how often",
               "submitted": "at"}

    def read(labels, column="at"):
        rows = [(f"x{i}{j}", w, "P", "Weekly", f"2026-0{i + 1}-1{j}T10:00:00Z")
                for i, w in enumerate(labels) for j in range(3)]
        frame = pd.DataFrame(rows, columns=["id", "wave", "site", "how often", "at"])
        return parse_responses(frame, {**columns, "submitted": column})

    words = read(["one", "two", "three"])      # ran in this order; sorts otherwise
    warning = words.wave_order_warning()
    assert "(one, three, two)" in warning
    assert "one, two, three;" in warning
    assert read(["w1", "w2", "w3"]).wave_order_warning() is None
    assert read(["january", "february", "march"]).wave_order_warning() is None   # months
    assert read(["one", "two", "three"], column="").wave_order_warning() is None


def test_when_respondents_began_is_read_from_their_first_answer():
    """The day each respondent says they began micro-work (``started``): their first
    answer's, a number (negative: before the period), blank for no answer, not kept when
    the attention check was failed; anything else refused naming the line."""
    from crowdcensus.sources.responses import parse_responses

    cols = {"worker": "id", "wave": "wave", "platform": "site", "frequency": "how often",
            "started": "began", "attention": "ok"}
    frame = pd.DataFrame({"id": ["a", "b", "c", "d", "a"], "wave": ["w1", "w1", "w2", "w2", "w2"],
                          "site": "P", "how often": "Weekly", "ok": [1, 1, 1, 0, 1],
                          "began": ["120", "-400", "", "30", "7"]})
    r = parse_responses(frame, cols)
    got = r.respondents["started"].to_dict()
    assert got["a"] == 120 and got["b"] == -400 and np.isnan(got["c"]) and np.isnan(got["d"])
    assert parse_responses(frame.drop(columns="began"), cols).respondents["started"].isna().all()
    frame.loc[2, "began"] = "last spring"
    with pytest.raises(InputError, match="'began' on line 4 is 'last spring': not a day of "
                                         "the reference period"):
        parse_responses(frame, cols)
    # dates and months, read against the period's first day; without it, kept apart
    frame["began"] = ["2025-03", "2024-12-25", "", "2025-01-06", "2025-01-07"]
    undated = parse_responses(frame, cols).respondents["started"]
    assert np.isneginf(undated[["a", "b"]]).all() and undated[["c", "d"]].isna().all()
    got = parse_responses(frame, cols, reference_start=date(2025, 1, 6)).respondents["started"]
    assert got["a"] == (date(2025, 3, 15) - date(2025, 1, 6)).days and got["b"] == -12
    assert np.isnan(got["c"]) and np.isnan(got["d"])


def test_rows_without_answers_are_left_out_and_lines_keep_their_numbers():
    """Spreadsheets export empty rows (",,,," at the end, or between blocks): they carry
    no answer and are left out; an error further down still names its line in the file."""
    from crowdcensus.sources.responses import parse_responses

    cols = {"worker": "id", "wave": "wave", "platform": "site", "frequency": "how often",
            "hours": "hours"}
    frame = pd.DataFrame({"id": ["a", "", "b", "c", "a", None, ""],
                          "wave": ["w1", "", "w1", "w2", "w2", None, ""],
                          "site": ["P", "", "P", "P", "P", None, ""],
                          "how often": ["Weekly", "", "Weekly", "Weekly", "Weekly", None, ""],
                          "hours": ["1", "", "2", "3", "4", None, ""]})
    r = parse_responses(frame, cols)
    assert sorted(r.respondents.index) == ["a", "b", "c"] and len(r.events) == 4
    frame.loc[3, "hours"] = "three"       # the fifth line of the file
    with pytest.raises(InputError, match="'hours' on line 5 is not a number of hours"):
        parse_responses(frame, cols)
    with pytest.raises(InputError, match="every row's worker, wave, platform, frequency "
                                         "cells are empty"):
        parse_responses(frame.iloc[[1, 5, 6]], cols)


def test_a_frequency_left_blank_is_an_answer_not_known():
    """A respondent who leaves the frequency blank in their first answer is kept, their
    answer not known (as a failed attention check's), and counted apart from the
    inattentive; a file where nobody answers it stops in one line; a wording that is
    not a frequency still does."""
    from crowdcensus.sources.responses import parse_responses

    cols = {"worker": "id", "wave": "wave", "platform": "site", "frequency": "how often",
            "attention": "check"}
    frame = pd.DataFrame({"id": ["a", "b", "c", "a", "b"],
                          "wave": ["w1", "w1", "w1", "w2", "w2"],
                          "site": ["P"] * 5,
                          "how often": ["", "Weekly", "Monthly", "Weekly", ""],
                          "check": ["yes", "yes", "no", "yes", "yes"]})
    r = parse_responses(frame, cols)
    cats = r.respondents["category"]
    assert cats.isna().to_dict() == {"a": True, "b": False, "c": True}   # c: failed check
    assert cats["b"] == "weekly" and len(r.events) == 5
    assert (r.frequency_unanswered, r.inattentive) == (1, 1)
    assert r.failed_answers == {"monthly": 1}
    assert r.unanswered_warning().startswith("1 of 3 respondents left the frequency question")
    assert parse_responses(frame.assign(**{"how often": "Weekly"}), cols
                           ).unanswered_warning() is None
    with pytest.raises(InputError, match="no frequency answer: every row's 'how often' is "
                                         "empty"):
        parse_responses(frame.assign(**{"how often": ""}), cols)
    frame.loc[3, "how often"] = "whenever"
    with pytest.raises(InputError, match="'whenever' in column 'how often' is not mapped"):
        parse_responses(frame, cols)


def test_answer_times_written_day_first_order_the_waves():
    """French survey tools write 25/05/2025 14:05: read month first, the waves of May and
    June were taken to run in another order than their labels', and the report warned."""
    from crowdcensus.sources.responses import parse_responses

    columns = {"worker": "id", "wave": "wave", "platform": "site", "frequency": "how often",
               "submitted": "at"}
    days = {"w1": ["28/05/2025", "30/05/2025"], "w2": ["04/06/2025", "06/06/2025"],
            "w3": ["11/06/2025", "13/06/2025"]}
    rows = [(f"x{w}{j}", w, "P", "Weekly", f"{d} 10:00") for w, ds in days.items()
            for j, d in enumerate(ds)]
    r = parse_responses(pd.DataFrame(rows, columns=["id", "wave", "site", "how often", "at"]),
                        columns)
    assert r.wave_order_warning() is None
    assert [t.strftime("%m-%d") for t in r.wave_times] == ["05-29", "06-05", "06-12"]


def test_answers_typed_with_typographic_apostrophes_or_decomposed_accents_are_mapped():
    """A French keyboard or word processor writes "C’est la première fois" (a curly
    apostrophe; macOS files may decompose the accent): it was refused as not mapped,
    quoting an answer that looked like the mapping's own."""
    from crowdcensus.sources.responses import parse_responses

    written = ["C\u2019est la premie\u0300re fois", "Une\u00a0fois par semaine",
               "C'est la première fois"]
    frame = pd.DataFrame({"id": ["a", "b", "c"], "wave": ["w1", "w1", "w2"], "site": "P",
                          "how often": written})
    r = parse_responses(frame, {"worker": "id", "wave": "wave", "platform": "site",
                                "frequency": "how often"},
                        {"C'est la première fois": "first_time",
                         "Une fois par semaine": "weekly"})
    assert r.respondents["category"].to_dict() == {"a": "first_time", "b": "weekly",
                                                   "c": "first_time"}


def test_spaces_around_ids_and_wave_labels_make_no_other_worker_or_wave():
    from crowdcensus.sources.responses import parse_responses

    frame = pd.DataFrame({"id": ["a", "a ", " b", "b"], "wave": ["w1", " w2", "w1 ", "w2"],
                          "site": "P", "how often": "Weekly"})
    r = parse_responses(frame, {"worker": "id", "wave": "wave", "platform": "site",
                                "frequency": "how often"})
    assert list(r.histories.occasions) == ["w1", "w2"]
    assert sorted(r.respondents.index) == ["a", "b"]
    assert r.histories.counts.tolist() == [2]          # both seen in both waves


def test_a_worker_who_answers_twice_in_a_wave_counts_once_and_is_said():
    from crowdcensus.sources.responses import parse_responses

    frame = pd.DataFrame({"id": ["a", "a", "a", "b", "b", "c"],
                          "wave": ["w1", "w1", "w2", "w1", "w2", "w2"], "site": "P",
                          "how often": ["Weekly", "Monthly", "Weekly", "Weekly", "Weekly",
                                        "Monthly"]})
    r = parse_responses(frame, {"worker": "id", "wave": "wave", "platform": "site",
                                "frequency": "how often"})
    assert sorted(r.histories.counts.tolist()) == [1, 2]   # a and b in both waves, c in w2
    assert r.respondents.loc["a", "category"] == "weekly"     # the first answer's
    assert r.repeated_in_wave == 1
    assert r.repeat_warning().startswith("1 respondents answered more than once in the same")
    once = parse_responses(frame.drop(index=1), {"worker": "id", "wave": "wave",
                                                 "platform": "site", "frequency": "how often"})
    assert once.repeated_in_wave == 0 and once.repeat_warning() is None


@pytest.mark.parametrize("sep", [",", ";"])
def test_a_column_the_study_names_twice_in_the_header_is_refused(tmp_path, sep):
    # read on, the second became 'frequency.1' and the error spoke of an unmapped answer
    from crowdcensus.sources.responses import read_responses

    cols = {"worker": "id", "wave": "wave", "platform": "site", "frequency": "how often"}
    f = tmp_path / "r.csv"
    rows = [["id", "wave", "site", "how often", "how often", "note", "note"],
            ["a", "w1", "P", "Weekly", "en", "x", "y"], ["a", "w2", "P", "Weekly", "en", "", ""],
            ["b", "w2", "P", "Monthly", "en", "", ""]]
    f.write_text("\n".join(sep.join(r) for r in rows) + "\n")
    with pytest.raises(InputError, match="the header names column 'how often' more than "
                                         r"once \(experiment.columns.frequency\)"):
        read_responses(f, cols)
    # a column the study does not name may be repeated (survey exports do it)
    rows = [[c for j, c in enumerate(r) if j != 4] for r in rows]
    f.write_text("\n".join(sep.join(r) for r in rows) + "\n")
    assert sorted(read_responses(f, cols).respondents.index) == ["a", "b"]


def test_respondents_who_live_in_another_country_are_left_out():
    """With `columns.country`, a respondent whose (first) answer names another country
    than the study's is left out with all their answers; one who did not say is kept."""
    from crowdcensus.sources.responses import parse_responses

    rows = [("a", "w1", "FR"), ("a", "w2", "FR"), ("b", "w1", "MG"), ("b", "w2", "MG"),
            ("c", "w1", ""), ("d", "w2", "fr "), ("e", "w2", "CI"), ("f", "w1", "MG")]
    frame = pd.DataFrame(rows, columns=["id", "wave", "where"]).assign(
        site="P", often="Weekly")
    cols = {"worker": "id", "wave": "wave", "platform": "site", "frequency": "often",
            "country": "where"}
    r = parse_responses(frame, cols, country="FR")
    assert sorted(r.respondents.index) == ["a", "c", "d"]
    assert set(r.events["worker"]) == {"a", "c", "d"}
    assert r.elsewhere == {"MG": 2, "CI": 1} and r.country_unanswered == 1
    said = r.country_warning("FR")
    assert said.startswith("3 of 6 respondents live in another country than FR (MG 2, CI 1)")
    assert said.endswith("; 1 who did not say are kept")
    # without the study's country (the API called directly) nobody is left out
    assert len(parse_responses(frame, cols).respondents) == 6
    with pytest.raises(InputError, match=r"no respondent's 'where' is the study's country "
                                         r"'France' \(answers: MG 2, FR 1"):
        parse_responses(frame, cols, country="France")
    with pytest.raises(InputError, match="missing column 'pays'"):
        parse_responses(frame, {**cols, "country": "pays"}, country="FR")


def test_a_country_column_not_stated_is_read_when_it_names_the_study_country():
    """The collection service exports a `country` column; `columns.country` not stated:
    when the answers there name the study's country among others, the column is read
    (those elsewhere left out, and the warning says the column was found); when they name
    several countries but not the study's as written ("France" for "FR"), or the study
    sets `columns.country = ""`, every respondent counts and a warning points at the
    column; one country, or none given, says nothing."""
    from crowdcensus.sources.responses import parse_responses

    rows = [("a", "w1", "FR"), ("a", "w2", "MG"), ("b", "w1", "MG"), ("b", "w2", "MG"),
            ("c", "w1", ""), ("d", "w2", "FR"), ("e", "w2", " FR")]
    frame = pd.DataFrame(rows, columns=["id", "wave", "Country"]).assign(
        site="P", often="Weekly")
    cols = {"worker": "id", "wave": "wave", "platform": "site", "frequency": "often",
            "country": None}
    found = parse_responses(frame, cols, country="fr")
    stated = parse_responses(frame, {**cols, "country": "Country"}, country="fr")
    for r in (found, stated):
        assert sorted(r.respondents.index) == ["a", "c", "d", "e"]
        assert r.elsewhere == {"MG": 1} and r.unmapped_countries == {}
    assert found.country_found == "Country" and stated.country_found is None
    said = found.country_warning("fr")
    assert said.startswith("1 of 5 respondents live in another country than fr (MG 1)")
    assert said.endswith("(read from the file's 'Country' column, which names fr among "
                         'others; experiment.columns.country = "" keeps every respondent)')
    assert "read from" not in stated.country_warning("fr")
    for r in (parse_responses(frame, cols, country="France"),
              parse_responses(frame, {**cols, "country": ""}, country="FR")):
        assert r.n_respondents == 5 and r.unmapped_countries == {"FR": 3, "MG": 1}
        said = r.country_warning("FR")
        assert said.startswith("the respondents name 2 countries of residence in their "
                               "'Country' answers (FR 3, MG 1)")
        assert said.endswith('set it to "Country" and write [study] country as the answers '
                             "write it to leave out those who live elsewhere")
    one = frame.assign(Country=frame["Country"].where(frame["id"] != "b", "FR"))
    assert parse_responses(one, cols, country="FR").country_warning("FR") is None


def test_a_study_with_a_country_column_counts_the_residents_only(tmp_path):
    """The simulated example with a tenth of its respondents (drawn at random) answering
    that they live in Madagascar: they are left out of the experiment, whether the study
    names the column or not (a column named `country` that names the study's country is
    read), the report says how many, and the experiment's own occasional figure (its
    respondents' total) falls; `columns.country = ""` keeps them."""
    import tomllib

    import numpy as np
    import tomli_w

    path = _simulated_copy(tmp_path, blank_registered=False)
    table = pd.read_csv(tmp_path / "responses.csv", dtype=str, keep_default_na=False)
    workers = table["worker_hash"].unique()
    away = np.random.default_rng(3).choice(workers, len(workers) // 10, replace=False)
    table["country"] = np.where(table["worker_hash"].isin(away), "MG", "XX")
    table.to_csv(tmp_path / "responses.csv", index=False)
    data = tomllib.loads(path.read_text())
    runs = {}
    for column in ("", None, "country"):
        data["experiment"]["columns"] = {} if column is None else {"country": column}
        path.write_text(tomli_w.dumps(data))
        runs[column] = run_study(path, seed=1, inference="laplace", checks=False)
    before = runs[""]
    assert before.responses.n_respondents == len(workers) and not before.responses.elsewhere
    for after in (runs[None], runs["country"]):
        assert after.responses.n_respondents == len(workers) - len(away)
        assert after.responses.elsewhere == {"MG": len(away)}
        assert any(w.startswith(f"{len(away):,} of {len(workers):,} respondents live in "
                                "another country than XX (MG") for w in after.warnings)
        exp_before = before.methods["experiment"]["occasional"].estimate
        exp_after = after.methods["experiment"]["occasional"].estimate
        assert exp_after < 0.95 * exp_before, (exp_before, exp_after)
    assert runs[None].combined == runs["country"].combined


def test_respondents_who_failed_the_attention_check_are_captures_with_no_answer():
    """`columns.attention` (the service's `attention_passed` by default): a respondent who
    failed the check in their first answer keeps their history, but their frequency and
    hours are not known; a blank is not a failure; a value that says neither stops."""
    from crowdcensus.sources.responses import parse_responses

    rows = [("a", "w1", "Weekly", 3.0, "True"), ("a", "w2", "Weekly", 3.0, "false"),
            ("b", "w1", "Monthly", 1.0, "False"), ("b", "w2", "Weekly", 2.0, "True"),
            ("c", "w2", "Less often", 0.5, ""), ("d", "w1", "Weekly", 9.0, "non"),
            ("e", "w2", "Monthly", 1.0, "1")]
    frame = pd.DataFrame(rows, columns=["worker_hash", "wave", "frequency",
                                        "hours_per_week", "attention_passed"]).assign(
        platform="P")
    cols = {"worker": "worker_hash", "wave": "wave", "platform": "platform",
            "frequency": "frequency", "hours": "hours_per_week",
            "attention": "attention_passed"}
    r = parse_responses(frame, cols)
    assert r.n_respondents == 5 and r.histories.n_captured == 5
    assert r.inattentive == 2
    unknown = r.respondents["category"].isna()
    assert sorted(r.respondents.index[unknown]) == ["b", "d"]
    assert r.respondents.loc[["b", "d"], "hours"].isna().all()
    assert r.respondents.loc["a", "category"] == "weekly"   # failed later: not the answer read
    assert r.attention_warning().startswith("2 of 5 respondents failed the attention check")
    assert "read the answers of the 3 others as those of all 5" in r.attention_warning()
    assert r.attention_read and not parse_responses(
        frame.assign(attention_passed=""), cols).attention_read
    # not read: every answer counts
    plain = parse_responses(frame, {**cols, "attention": ""})
    assert plain.inattentive == 0 and plain.respondents["category"].notna().all()
    assert plain.attention_warning() is None
    with pytest.raises(InputError, match=r"'attention_passed' on line 3 is 'maybe', not "
                                         r"whether the attention check was passed"):
        parse_responses(frame.assign(attention_passed=frame["attention_passed"].where(
            frame.index != 1, "maybe")), cols)


def test_a_platform_table_says_which_figures_count_active_accounts(tmp_path):
    p = _write(tmp_path, "name,declared,declared_status,declared_active_days,declared_day\n"
                         "A,1000,published,30,200\nB,500,published,,\n")
    assert [(pl.declared_active_days, pl.declared_day) for pl in load_study(p).platforms] == [
        (30, 200), (None, None)]
    p = _write(tmp_path, "name,declared,declared_status,declared_active_days\n"
                         "A,1000,published,soon\n")
    with pytest.raises(InputError, match="line 2, column declared_active_days: "):
        load_study(p)
