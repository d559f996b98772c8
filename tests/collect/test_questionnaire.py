"""Questionnaire validation, signed tokens and the pre-rendered blank form."""

from __future__ import annotations

import time

import pytest

from crowdcensus.collect import questionnaire as q
from crowdcensus.collect.app import templates
from crowdcensus.collect.identity import sign, unsign
from crowdcensus.collect.texts import TEXTS
from crowdcensus.collect.views import worker

from .helpers import GOOD_ANSWERS, SECRET


def _form(**changes):
    form = {k: v if isinstance(v, list) else [v] for k, v in GOOD_ANSWERS.items()}
    for key, value in changes.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value if isinstance(value, list) else [value]
    return form


def test_valid_answers_become_codes():
    answers = q.validate_answers(_form(hours_per_week="7,5"))
    assert answers.hours_per_week == 7.5 and answers.attention_passed
    assert q.validate_answers(_form(hours_per_week="7.5")).hours_per_week == 7.5
    row = answers.as_row()
    assert row["platforms_registered"] == "mturk,prolific"
    assert row["platforms_last_month"] == "mturk"
    assert q.validate_answers(_form(attention="often")).attention_passed is False


def test_the_month_of_the_first_task_is_optional_and_checked():
    """The month and year of the first paid micro-task: blank when not answered, written
    ``YYYY-MM`` whether typed so or as ``MM/YYYY`` (a browser without a month picker),
    refused before 2000, after this month, or not a month, naming the field."""
    from datetime import date

    today = date(2026, 12, 7)
    assert q.validate_answers(_form(), today=today).as_row()["started_month"] is None
    assert q.validate_answers(_form(started_month=""), today=today).started_month is None
    for typed, kept in (("2024-05", "2024-05"), ("2024-5", "2024-05"), ("05/2024", "2024-05"),
                        (" 2026-12 ", "2026-12"), ("2000-01", "2000-01")):
        answers = q.validate_answers(_form(started_month=typed), today=today)
        assert answers.as_row()["started_month"] == kept, typed
    for typed in ("2027-01", "1999-12", "2024-13", "2024-00", "May 2024", "2024-05-01",
                  ["2024-05", "2024-06"]):
        with pytest.raises(q.AnswerError) as exc:
            q.validate_answers(_form(started_month=typed), "fr", today=today)
        assert set(exc.value.errors) == {"started_month"}, typed
        assert "2024-05" in exc.value.errors["started_month"]


@pytest.mark.parametrize("changes, field", [
    ({"frequency": None}, "frequency"),
    ({"frequency": "daily"}, "frequency"),
    ({"frequency": ["weekly", "monthly"]}, "frequency"),
    ({"hours_per_week": "-1"}, "hours_per_week"),
    ({"hours_per_week": "nan"}, "hours_per_week"),
    ({"hours_per_week": "1e9"}, "hours_per_week"),
    ({"hours_per_week": "many"}, "hours_per_week"),
    ({"hours_per_week": "1_0"}, "hours_per_week"),
    ({"hours_per_week": "1e1"}, "hours_per_week"),
    ({"hours_per_week": "7.25"}, "hours_per_week"),
    ({"hours_per_week": "+7"}, "hours_per_week"),
    ({"hours_per_week": "\u0667"}, "hours_per_week"),
    ({"country": "France"}, "country"),
    ({"earnings_band": None}, "earnings_band"),
    ({"platforms_registered": ["mturk", "myspace"]}, "platforms_registered"),
    ({"platforms_registered": [], "platforms_last_month": []}, "platforms_registered"),
    ({"platforms_registered": ["toloka"], "platforms_last_month": ["mturk"]},
     "platforms_last_month"),
    ({"attention": None}, "attention"),
])
def test_invalid_answers_name_the_field(changes, field):
    with pytest.raises(q.AnswerError) as exc:
        q.validate_answers(_form(**changes), "fr")
    assert set(exc.value.errors) == {field}
    assert exc.value.errors[field] in {q.message(k, "fr") for k in
                                       ("missing", "choice", "hours", "subset",
                                                                "one_platform")}


def test_signed_tokens_detect_tampering_and_expiry():
    token = sign(SECRET, "participant", {"h": "abc", "iat": int(time.time())})
    assert unsign(SECRET, "participant", token)["h"] == "abc"
    assert unsign(SECRET, "csrf", token) is None  # another purpose
    assert unsign(SECRET + b"!", "participant", token) is None
    body, mac = token.split(".")
    assert unsign(SECRET, "participant", body + "x." + mac) is None
    old = sign(SECRET, "participant", {"h": "abc", "iat": int(time.time()) - 100})
    assert unsign(SECRET, "participant", old, max_age=50) is None
    for junk in ("", ".", "a.b.c", "!!!.???", "x" * 5000):
        assert unsign(SECRET, "participant", junk) is None


@pytest.mark.parametrize("lang, other", [("en", "fr"), ("fr", "en"), ("fr", None)])
def test_prerendered_blank_form_equals_a_direct_rendering(lang, other):
    context = dict(t=TEXTS[lang], q=q, labels=q.FIELD_LABELS, lang=lang, errors={},
                   values=worker._blank_values(), other=other)
    template = templates.get_template("questionnaire.html")
    direct = template.render(**context, token="ab-c.d_e", csrf="fg.hi", wave={"public_id": "W-1"})
    slots = template.render(**context, token=worker._SLOTS[0], csrf=worker._SLOTS[1],
                            wave={"public_id": worker._SLOTS[2]})
    filled = slots.replace(worker._SLOTS[0], "ab-c.d_e").replace(
        worker._SLOTS[1], "fg.hi").replace(worker._SLOTS[2], "W-1")
    assert filled == direct
    assert direct.count('type="radio"') == len(q.FREQUENCIES) + len(q.EARNINGS_BANDS) + \
        len(q.ATTENTION_CHOICES)
    assert ('id="switch-language"' in direct) == (other is not None)


@pytest.mark.parametrize("text, decimals, value", [
    ("7,5", 1, 7.5), ("7.5", 1, 7.5), (" 12 ", 0, 12.0), (",5", 1, 0.5), ("5,", 1, 5.0),
    ("0", 0, 0.0), ("3,25", 2, 3.25),
    ("1_0", 1, None), ("1e1", 1, None), ("7.25", 1, None), ("7,5", 0, None), ("", 1, None),
    (",", 1, None), ("1.2.3", 2, None), ("-1", 1, None), ("\u0663", 1, None), ("1 0", 1, None),
    ("1,000", 1, None),
])
def test_parse_decimal_reads_what_people_type(text, decimals, value):
    from crowdcensus.collect.inputs import parse_decimal

    assert parse_decimal(text, decimals) == value
