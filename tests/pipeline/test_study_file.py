"""The study file: validation errors name the field path and the problem."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from crowdcensus.errors import InputError
from crowdcensus.study import load_study, parse_study

from .conftest import FRANCE, SIMULATED


def _error(data: dict) -> str:
    with pytest.raises(InputError) as info:
        parse_study(data, name="s.toml")
    return str(info.value)


def test_minimal_study_is_valid(study_dict):
    study = parse_study(study_dict)
    paths = [p for p, _ in study.quantities()]
    assert paths == [
        "assumptions.multihoming",
        "platforms[0].declared",
        "platforms[0].audience.visitors",
        "platforms[0].audience.worker_share",
        "platforms[1].declared",
        "platforms[1].audience.visitors",
    ]
    q = study.platforms[1].declared
    assert q.range == (500, 500)  # no range given: no uncertainty


def test_negative_declared_value_names_the_path(study_dict):
    study_dict["platforms"][1]["declared"]["value"] = -3
    assert _error(study_dict) == "s.toml: platforms[1].declared.value: must be a positive number"


def test_a_count_of_people_beyond_the_worlds_is_refused(study_dict):
    # 1e300 registrations went through and overflowed in the fits (warnings, exit 0)
    study_dict["platforms"][0]["audience"]["visitors"]["value"] = 1e300
    assert _error(study_dict) == ("s.toml: platforms[0].audience.visitors.value: must be "
                                  "at most 10,000,000,000")
    del study_dict["platforms"][0]["audience"]
    study_dict["platforms"][1]["declared"]["value"] = 2e10
    assert _error(study_dict) == ("s.toml: platforms[1].declared.value: must be at most "
                                  "10,000,000,000")


def test_text_where_a_number_is_expected(study_dict):
    study_dict["platforms"][0]["audience"]["visitors"]["high"] = "lots"
    assert _error(study_dict) == ("s.toml: platforms[0].audience.visitors.high: "
                                  "must be a number")


def test_low_above_value(study_dict):
    study_dict["platforms"][0]["declared"]["low"] = 1200
    assert _error(study_dict) == ("s.toml: platforms[0].declared.low: must not exceed "
                                  "value (1000)")


def test_share_above_one(study_dict):
    study_dict["platforms"][0]["audience"]["worker_share"]["value"] = 1.4
    assert "platforms[0].audience.worker_share.value: must be a proportion between 0 and 1" \
        in _error(study_dict)


def test_missing_status_and_unknown_field(study_dict):
    del study_dict["platforms"][0]["declared"]["status"]
    study_dict["platforms"][0]["declared"]["valeur"] = 3
    msg = _error(study_dict)
    assert msg.startswith("s.toml: platforms[0].declared.status: is required")
    assert "platforms[0].declared.valeur: unknown field" in msg
    assert "and 1 more" in msg


def test_bad_status_word(study_dict):
    study_dict["assumptions"]["multihoming"]["status"] = "guessed"
    assert _error(study_dict).startswith(
        "s.toml: assumptions.multihoming.status: must be one of 'published', 'derived'")


def test_multihoming_below_one(study_dict):
    study_dict["assumptions"]["multihoming"] = {"value": 0.8, "status": "assumed"}
    assert "assumptions.multihoming.value: must be at least 1" in _error(study_dict)


def test_multihoming_estimate_needs_responses(study_dict):
    study_dict["assumptions"]["multihoming"] = {"value": "estimate", "status": "assumed"}
    assert "assumptions.multihoming.value: \"estimate\" needs experiment responses" \
        in _error(study_dict)


def test_unknown_source_and_duplicate_platform(study_dict):
    study_dict["platforms"][0]["declared"]["source"] = "nowhere"
    assert _error(study_dict) == ("s.toml: platforms[0].declared.source: unknown source "
                                  "'nowhere' (not in [[sources]])")
    study_dict["platforms"][0]["declared"]["source"] = "s"
    study_dict["platforms"][1]["name"] = "A"
    assert _error(study_dict) == "s.toml: platforms[1].name: duplicate platform 'A'"


def test_experiment_errors(study_dict):
    study_dict["experiment"] = {"responses": "r.csv", "capture": "pooled"}
    assert _error(study_dict) == ("s.toml: experiment.reach: is required with capture = "
                                  "\"pooled\" (the reach model splits the pooled estimate "
                                  "into tiers)")
    study_dict["experiment"] = {"responses": "r.csv", "reach": {
        "posting_weeks": 4, "p_week": {"sometimes": {"value": 0.5, "status": "assumed"}}}}
    assert _error(study_dict).startswith(
        "s.toml: experiment.reach.p_week.sometimes: unknown frequency category")
    study_dict["experiment"] = {"shares": {"very_active": {"value": 0.05, "status": "derived"}},
                                "share_base": "nowhere"}
    assert _error(study_dict).startswith("s.toml: experiment.share_base: must be one of")


def test_no_platforms(study_dict):
    study_dict["platforms"] = []
    assert _error(study_dict) == "s.toml: platforms: must not be empty"


def test_a_byte_order_mark_is_not_part_of_the_toml_and_other_encodings_are_one_line(
        tmp_path):
    """Windows editors save "UTF-8 with BOM": the study reads as without it. A study saved
    in Windows-1252 is refused in one line saying what to do (TOML is UTF-8)."""
    import shutil

    for f in FRANCE.parent.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    text = FRANCE.read_text(encoding="utf-8")
    (tmp_path / "study.toml").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert load_study(tmp_path / "study.toml").model_dump(exclude={"base_dir"}) == \
        load_study(FRANCE).model_dump(exclude={"base_dir"})
    (tmp_path / "study.toml").write_bytes(text.encode("cp1252", errors="replace") + b"\xe9")
    with pytest.raises(InputError, match="study.toml: not UTF-8 text .*saved as UTF-8"):
        load_study(tmp_path / "study.toml")


def test_toml_syntax_error(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[study\ntitle = 1\n")
    with pytest.raises(InputError, match=r"bad.toml: not valid TOML"):
        load_study(p)


def test_examples_are_valid():
    france = load_study(FRANCE)
    assert france.assumptions.multihoming.value == 1.27
    sim = load_study(SIMULATED)
    assert sim.study.simulated
    assert sim.responses_path() == (SIMULATED.parent / "responses.csv").resolve()


def test_cli_schema_error_is_one_line_exit_2(tmp_path):
    text = FRANCE.read_text().replace("value = 337980", "value = -337980")
    p = tmp_path / "study.toml"
    p.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "crowdcensus", "run", str(p), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0] == f"error: {p}: platforms[0].declared.value: must be a positive number"
    assert not (tmp_path / "out").exists()


def test_survey_format_needs_a_column_mapping(study_dict):
    study_dict["experiment"] = {"responses": "r.csv", "format": "survey", "reach": {
        "posting_weeks": 4, "p_week": {"weekly": {"value": 0.5, "status": "assumed"}}}}
    assert _error(study_dict).startswith("s.toml: experiment.columns: is required for format "
                                         "\"survey\"")
    study_dict["experiment"]["columns"] = {"worker": "id", "wave": "vague",
                                           "platform": "plateforme", "frequency": "freq",
                                           "registered_on": None}
    assert parse_study(study_dict).experiment.columns.wave == "vague"


def test_every_study_file_field_is_documented():
    from crowdcensus import study as mod

    doc = (FRANCE.parents[2] / "docs" / "study-file.md").read_text()
    models = [mod.Quantity, mod.MultihomingQuantity, mod.StudyInfo, mod.SourceRef,
              mod.Settings, mod.Audience, mod.Platform, mod.Columns, mod.Reach,
              mod.Experiment, mod.Study, mod.Schedule, mod.Synthesis, mod.Assumptions]
    missing = sorted({f"{m.__name__}.{name}" for m in models for name in m.model_fields
                      if name != "base_dir"
                      and not re.search(rf"(?m)(^|[`.\[]){name}[`\].= ]", doc)})
    assert missing == []


def test_contradicting_inputs_name_the_fields(study_dict):
    """Inputs that cannot both hold give one line naming the fields (issue 9, item 7)."""
    study_dict["platforms"][0]["audience"] = {"visitors": {
        "value": 9000, "low": 8000, "high": 10000, "status": "assumed"}}
    study_dict["platforms"][0]["declared"] = {"value": 5000, "low": 4500, "high": 5500,
                                              "status": "assumed"}
    msg = _error(study_dict)
    assert msg.startswith("s.toml: platforms[0].audience.visitors: the monthly visitors who "
                          "are workers (at least 8,000) exceed the registrations declared in "
                          "platforms[0].declared (at most 5,500)")
    # a worker share low enough makes the two figures compatible
    study_dict["platforms"][0]["audience"]["worker_share"] = {
        "value": 0.5, "low": 0.4, "high": 0.6, "status": "assumed"}
    parse_study(study_dict, name="s.toml")


def test_contradicting_shares(study_dict):
    study_dict["experiment"] = {"shares": {
        "very_active": {"value": 0.3, "low": 0.25, "high": 0.35, "status": "assumed"},
        "regular": {"value": 0.2, "low": 0.15, "high": 0.22, "status": "assumed"}}}
    assert _error(study_dict).startswith(
        "s.toml: experiment.shares.very_active: (0.25 at least) exceeds "
        "experiment.shares.regular (0.22 at most)")


def test_a_declared_figure_of_active_accounts(study_dict):
    """A platform may say its declared figure counts the accounts active in its last days,
    and on which day of the reference period it was taken: only with a declared figure, the
    day within the period and the window before it; a month's visitors who are
    workers may then outnumber the accounts active in a shorter window t, but not by more
    than (364/12)/t, nor those active in a month or longer."""
    study_dict["platforms"][0]["declared_active_days"] = 30
    assert parse_study(study_dict).platforms[0].declared_active_days == 30
    study_dict["platforms"][0]["declared_active_days"] = 400
    assert _error(study_dict) == ("s.toml: platforms[0].declared_active_days: (400 days) is "
                                  "longer than the reference period before the figure was "
                                  "taken (364 days)")
    study_dict["platforms"][0]["declared_active_days"] = 30
    study_dict["platforms"][0]["declared_day"] = 20
    assert _error(study_dict) == ("s.toml: platforms[0].declared_active_days: (30 days) is "
                                  "longer than the reference period before the figure was "
                                  "taken (20 days)")
    study_dict["platforms"][0]["declared_day"] = 365
    assert _error(study_dict) == ("s.toml: platforms[0].declared_day: (day 365) is after the "
                                  "end of the reference period (364 days)")
    study_dict["platforms"][0]["declared_day"] = 182
    assert parse_study(study_dict).platforms[0].declared_day == 182
    del study_dict["platforms"][0]["declared_day"]
    study_dict["platforms"][0]["declared_active_days"] = 0
    assert _error(study_dict).startswith("s.toml: platforms[0].declared_active_days: ")
    study_dict["platforms"][0]["declared_active_days"] = 31
    del study_dict["platforms"][0]["declared"]
    assert _error(study_dict) == ("s.toml: platforms[0].declared_active_days: says what the "
                                  "declared figure counts, but the platform gives no declared "
                                  "figure")
    del study_dict["platforms"][0]["declared_active_days"]
    study_dict["platforms"][0]["declared_day"] = 100
    assert _error(study_dict).startswith("s.toml: platforms[0].declared_day: says what the ")
    del study_dict["platforms"][0]["declared_day"]
    study_dict["platforms"][0]["declared_active_days"] = 31
    study_dict["platforms"][0]["declared"] = {"value": 5000, "low": 4500, "high": 5500,
                                              "status": "assumed"}
    study_dict["platforms"][0]["audience"] = {"visitors": {
        "value": 9000, "low": 8000, "high": 10000, "status": "assumed"}}
    assert "exceed the registrations declared" not in _error(study_dict)
    assert _error(study_dict) == (
        "s.toml: platforms[0].audience.visitors: the monthly visitors who are workers (at "
        "least 8,000) exceed what the accounts declared active in its last 31 days "
        "(platforms[0].declared, at most 5,500) allow: at most 5,500 workers visit in a month")
    # a week's active accounts allow up to 364/12/7 times as many visitors in a month
    study_dict["platforms"][0]["declared_active_days"] = 7
    parse_study(study_dict, name="s.toml")
    study_dict["platforms"][0]["declared"]["high"] = 1800
    study_dict["platforms"][0]["declared"]["value"] = 1700
    study_dict["platforms"][0]["declared"]["low"] = 1600
    assert _error(study_dict).endswith("allow: at most 7,800 workers visit in a month")


def test_a_share_of_active_accounts_that_are_not_workers(study_dict):
    """The share of the accounts counted active that are not workers' is read only where a
    platform declares active accounts: stated without one, a one-line error names it; with
    one, it becomes the joint model's prior (a moment-matched Beta), and without it the
    default Beta(1, 9) applies to such a study only."""
    from crowdcensus.synthesis.priors import study_priors

    stated = {"value": 0.2, "low": 0.1, "high": 0.3, "status": "assumed"}
    study_dict["assumptions"]["active_nonworker_share"] = stated
    assert _error(study_dict) == ("s.toml: assumptions.active_nonworker_share: no platform "
                                  "declares its accounts active in a window "
                                  "(declared_active_days), so nothing reads it")
    study_dict["platforms"][0]["declared_active_days"] = 30
    prior = study_priors(parse_study(study_dict)).active_nonworker_share
    assert prior.kind == "beta" and prior.origin == "assumptions.active_nonworker_share"
    assert prior.params[0] / sum(prior.params) == pytest.approx(0.2)
    del study_dict["assumptions"]["active_nonworker_share"]
    assert study_priors(parse_study(study_dict)).active_nonworker_share.params == (1.0, 9.0)
    del study_dict["platforms"][0]["declared_active_days"]
    assert study_priors(parse_study(study_dict)).active_nonworker_share is None


def test_a_share_of_accounts_that_are_not_workers_may_be_zero(study_dict):
    """A study that knows every account a platform counts is a worker's states a dormant
    share of 0: without a range the model holds it there (a fixed prior), with one (0 to
    0.05) it is a Beta whose mean is the triangle's, 1/60; below 0, or 1, is refused."""
    from crowdcensus.synthesis.priors import study_priors

    study_dict["assumptions"]["dormant_share"] = {"value": 0, "status": "assumed"}
    prior = study_priors(parse_study(study_dict)).dormant_share
    assert prior.kind == "fixed" and prior.params == (0.0,)
    study_dict["assumptions"]["dormant_share"].update(low=0, high=0.05)
    prior = study_priors(parse_study(study_dict)).dormant_share
    assert prior.kind == "beta"
    assert prior.params[0] / sum(prior.params) == pytest.approx(0.05 / 3, rel=1e-6)
    for refused in (-0.1, 1.0):
        study_dict["assumptions"]["dormant_share"] = {"value": refused, "status": "assumed"}
        assert "assumptions.dormant_share.value" in _error(study_dict), refused


def test_a_share_of_workers_who_come_and_go_needs_the_waves(study_dict):
    """The shares of workers arriving and leaving during the reference period are read
    against the waves' dates: stated without responses, without the waves' start days, or
    beside `experiment.churn = false`, a one-line error names the field; 1 is refused.
    Stated, each becomes a moment-matched Beta, the default Beta(1, 4) for the other."""
    from crowdcensus.synthesis.priors import DEFAULT_ARRIVALS, study_priors

    study_dict["assumptions"]["departure_share"] = {"value": 0.2, "low": 0.1, "high": 0.3,
                                                    "status": "assumed"}
    assert _error(study_dict) == ("s.toml: assumptions.departure_share: the share of workers "
                                  "who come and go is read against the experiment's waves, "
                                  "and the study has no responses")
    study_dict["experiment"] = {"responses": "r.csv"}
    assert _error(study_dict) == (
        "s.toml: assumptions.departure_share: needs the waves' start days "
        "(experiment.schedule.wave_starts): workers who come and go are placed against them")
    study_dict["experiment"]["schedule"] = {"wave_starts": [0, 7, 14]}
    study_dict["experiment"]["churn"] = False
    assert _error(study_dict) == (
        "s.toml: assumptions.departure_share: experiment.churn = false says that nobody "
        "arrives or leaves during the reference period: leave one of them out")
    del study_dict["experiment"]["churn"]
    priors = study_priors(parse_study(study_dict))
    assert priors.arrival_share == DEFAULT_ARRIVALS and priors.arrival_share.params == (1, 4)
    leave = priors.departure_share
    assert leave.kind == "beta" and leave.origin == "assumptions.departure_share"
    assert leave.params[0] / sum(leave.params) == pytest.approx(0.2)
    study_dict["assumptions"]["arrival_share"] = {"value": 1, "status": "assumed"}
    assert _error(study_dict).startswith("s.toml: assumptions.arrival_share.value: ")
    del study_dict["assumptions"]["arrival_share"], study_dict["assumptions"]["departure_share"]
    assert study_priors(parse_study(study_dict)).arrival_share is None
