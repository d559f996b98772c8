"""Method 2 end to end on the simulated example, whose truth is known."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from crowdcensus.capture.histories import CaptureHistories
from crowdcensus.methods.experiment import fit_capture
from crowdcensus.pipeline import run_study
from crowdcensus.report import write_report
from crowdcensus.study import Schedule, TurnoverShare, load_study

from .conftest import SIMULATED

TRUTH = {"very_active": 1000, "regular": 2500, "occasional": 10_000}
TRUE_SHARES = {"very_active": 0.10, "regular_only": 0.15, "occasional_only": 0.75}


@pytest.fixture(scope="module")
def results():
    """The example as shipped: capture-recapture within each band of answers (the default)."""
    return run_study(SIMULATED, draws=400)


@pytest.fixture(scope="module")
def pooled():
    """The same study with one capture-recapture over all respondents and reach-weighted shares."""
    study = load_study(SIMULATED)
    experiment = study.experiment.model_copy(update={"capture": "pooled"})
    return run_study(study.model_copy(update={"experiment": experiment}), draws=400)


def test_by_band_is_the_default_and_recovers_the_tiers(results):
    assert results.study.experiment.capture == "by_band"
    for tier, truth in TRUTH.items():
        iv = results.methods["experiment"][tier]
        assert iv.estimate == pytest.approx(truth, rel=0.12), tier
        assert iv.low < truth < iv.high, (tier, iv)


def test_weighted_shares_recover_the_simulated_truth(pooled):
    results = pooled
    shares = results.shares.set_index("band")
    for band, truth in TRUE_SHARES.items():
        row = shares.loc[band]
        assert row["weighted_share"] == pytest.approx(truth, abs=0.02), band
        assert row["low"] < truth < row["high"], band
    # respondents over-represent the very active: unweighted share far above the truth
    assert shares.loc["very_active", "unweighted_share"] > 0.2


def test_estimated_multihoming_is_near_the_truth(results):
    iv = results.intermediates["multihoming"]
    assert iv.estimate == pytest.approx(1.2988, abs=0.03)
    assert iv.low < iv.estimate < iv.high


def test_intervals_cover_the_truth(results):
    for tier in ("very_active", "occasional"):
        iv = results.combined[tier]
        assert iv.low < TRUTH[tier] < iv.high, (tier, iv)
    for tier, iv in results.methods["experiment"].items():
        assert iv.low < TRUTH[tier] < iv.high, (tier, iv)
    assert results.methods["declared"]["occasional"].estimate == pytest.approx(10_000, rel=0.05)


def test_audience_method_shows_its_known_bias(results):
    """Regular workers multi-home more than the average worker (1.57 vs 1.30 platforms in the
    simulation), so visitors / mean multi-homing over-counts them: the audience method lands
    near 2,500 x 1.57 / 1.30, not 2,500. The report shows it beside the experiment."""
    aud = results.methods["audience"]["regular"]
    visitors = results.intermediates["audience.worker_visitors"].estimate
    assert visitors == pytest.approx(1889 * 0.85 + 1622 * 0.85 + 1098 * 0.85)
    assert aud.estimate == pytest.approx(visitors / results.intermediates["multihoming"].estimate)
    assert aud.low > TRUTH["regular"]


def test_model_average_over_the_closed_models(pooled):
    results = pooled
    cap = results.capture
    table = cap.table
    assert len(table) >= 8
    assert table["weight"].sum() == pytest.approx(1.0)
    assert cap.selected == table.loc[table["aic"].idxmin(), "model"]
    used = table[table["used"]]
    assert cap.estimate == pytest.approx((used["weight"] * used["abundance"]).sum())
    assert cap.n_captured == results.responses.n_respondents


def test_capture_recapture_known_truth_homogeneous():
    """M0-like data with N = 400, p = 0.35 on 5 occasions: the average is near 400."""
    rng = np.random.default_rng(5)
    caught = rng.random((400, 5)) < 0.35
    hist = CaptureHistories.from_matrix(caught[caught.any(axis=1)].astype(int))
    avg = fit_capture(hist)
    lo, hi = avg.interval(0.95)
    assert lo < 400 < hi
    assert avg.estimate == pytest.approx(400, rel=0.1)


def test_outputs_never_contain_worker_ids(results, tmp_path):
    write_report(results, tmp_path)
    ids = pd.read_csv(SIMULATED.parent / "responses.csv")["worker_hash"].unique()[:200]
    for f in tmp_path.iterdir():
        if f.suffix in (".csv", ".json", ".html"):
            text = f.read_text()
            assert not any(i in text for i in ids), f.name
    assert (tmp_path / "capture_models.csv").exists()
    assert (tmp_path / "shares.csv").exists()


def test_report_says_whether_workers_come_and_go(results, tmp_path):
    """The joint model's churn is an assumption the report states: closed when the study
    gives no dates or its waves span a few weeks (the report and the warning name the
    fields that would carry arrivals and departures), open when they span months or the
    study states a share of workers arriving, whose prior is then in the table of
    assumptions."""
    closed = write_report(results, tmp_path / "no-dates").read_text()
    assert not results.joint.churn
    assert "Closed population" in closed and "schedule.wave_starts" in closed
    study = load_study(SIMULATED)

    def with_starts(starts, **assumptions):
        schedule = Schedule(reference_days=364, wave_days=7, wave_starts=starts)
        experiment = study.experiment.model_copy(update={"schedule": schedule})
        synthesis = study.synthesis.model_copy(update={"inference": "laplace"})
        return run_study(study.model_copy(update={
            "experiment": experiment, "synthesis": synthesis,
            "assumptions": study.assumptions.model_copy(update=assumptions)}), draws=200)

    weekly = with_starts([140 + 7 * w for w in range(6)])
    html = write_report(weekly, tmp_path / "weekly").read_text()
    assert not weekly.joint.churn
    assert "Closed population" in html and "experiment.churn = true" in html
    said = [w for w in weekly.warnings if w.startswith("the waves span 42 of the 364 days")]
    assert len(said) == 1 and "assumptions.arrival_share" in said[0]
    # waves from day 140 to 182: present then, 0.64 + 0.16 * 0.5 + 0.16 * (1 - 140 / 364)
    # + 0.04 * (1 - 0.5 ** 2 - (140 / 364) ** 2) = 0.8425 of the year's workers
    assert "that would be 84% of them, the tiers about 16% low" in said[0]
    assert "<code>assumptions.arrival_share</code>" in html
    arriving = TurnoverShare(value=0.1, low=0.05, high=0.2, status="assumed")
    stated = with_starts([140 + 7 * w for w in range(6)], arrival_share=arriving)
    html = write_report(stated, tmp_path / "stated").read_text()
    assert stated.joint.churn and "Closed population" not in html
    rows = stated.joint.shifts.set_index("assumption")
    assert rows.loc["Share of workers arriving during the reference period",
                    "origin"] == "assumptions.arrival_share"
    assert rows.loc["Share of workers leaving during the reference period",
                    "origin"] == "default"
    assert not [w for w in stated.warnings if "takes the population as closed" in w]
    spread = with_starts([28 + 56 * w for w in range(6)])
    html = write_report(spread, tmp_path / "spread").read_text()
    assert spread.joint.churn and set(spread.joint.biases["quantity"]) >= {
        "Share of workers arriving during the reference period",
        "Share of workers leaving during the reference period"}
    assert "Closed population" not in html and "start or stop" in html
    closed_warning = [w for w in spread.warnings + results.warnings
                      if "takes the population as closed" in w]
    assert not closed_warning


def test_report_reads_when_respondents_began(tmp_path):
    """Respondents who say when they began micro-work (the collection service's
    ``started_month``; here a tenth of the workers name a month of the period before the
    waves, the others one before the period): with the waves' dates and the period's
    first day, the joint model carries arrivals, on the default prior, departures held at
    none; the report says how many began during the period and the warning what the
    departures held at none would miss, and its predictive checks compare those who said
    they began during the period, and the waves they answered, with the model's; none of
    those there from the start is taken to misdate it (the default assumption). Without
    the dates or the first day, or with the population held closed, a warning says the
    answers were not read, and why."""
    study = load_study(SIMULATED)
    frame = pd.read_csv(study.responses_path())
    workers = frame["worker_hash"].unique()
    late = set(workers[:: 10])
    frame["started_month"] = np.where(frame["worker_hash"].isin(late), "2025-05", "2023-11")
    path = tmp_path / "responses.csv"
    frame.to_csv(path, index=False)

    def run(schedule, churn="auto", misdated=None):
        experiment = study.experiment.model_copy(update={
            "schedule": schedule, "responses": str(path), "churn": churn})
        synthesis = study.synthesis.model_copy(update={"inference": "laplace"})
        assumptions = study.assumptions.model_copy(update={"start_misdated": misdated})
        return run_study(study.model_copy(update={
            "experiment": experiment, "synthesis": synthesis, "assumptions": assumptions}),
            draws=200)

    weekly = Schedule(reference_days=364, wave_days=7, reference_start=date(2025, 1, 6),
                      wave_starts=[140 + 7 * w for w in range(6)])
    read = run(weekly)
    html = write_report(read, tmp_path / "read").read_text()
    assert read.joint.churn and "Closed population" not in html
    assert (f"{len(late):,} of the {len(workers):,} respondents who said when they began "
            "micro-work") in html
    rows = read.joint.shifts.set_index("assumption")
    assert rows.loc["Share of workers arriving during the reference period",
                    "origin"] == "default"
    assert "Answers on when respondents began</strong> (<code>assumptions.start_misdated" \
           "</code>): taken as exact" in html
    # the predictive checks of the answers: the count, and the means with two decimals
    checks = read.joint.checks.set_index("observed_figure")
    assert checks.loc["respondents who said they began during the period",
                      "observed"] == len(late)
    mean = checks.loc["waves answered per respondent who began during the period"]
    assert 1 <= mean["observed"] <= 6 and f">{mean['observed']:,.2f}<" in html
    said = [w for w in read.warnings if "holds departures at none" in w]
    # waves from day 140 to 182, a fifth leaving: 0.8 + 0.2 (1 - 140 / 364) = 0.923 there
    assert len(said) == 1 and "the tiers would be about 8% low" in said[0]
    assert not [w for w in read.warnings if "takes the population as closed" in w]
    undated = weekly.model_copy(update={"reference_start": None})
    for schedule, churn, why in ((None, "auto", "experiment.schedule.wave_starts"),
                                 (weekly, False, "experiment.churn = false"),
                                 (undated, "auto", "experiment.schedule.reference_start")):
        unread = run(schedule, churn)
        assert not unread.joint.churn
        said = [w for w in unread.warnings if "does not read it" in w]
        assert len(said) == 1 and why in said[0], unread.warnings
        assert said[0].startswith(f"{len(workers):,} respondents said when they began")
    # a share of misdated starts stated: read beside the answers (its prior and posterior
    # in the table of assumptions), and a warning where the answers are not read
    share = TurnoverShare(value=0.05, low=0, high=0.1, status="assumed")
    stated = run(weekly, misdated=share)
    row = stated.joint.shifts.set_index("assumption").loc[
        "Share of those there from the period's start who say they began during it"]
    assert row["origin"] == "assumptions.start_misdated" and row["prior"] < 0.1
    assert not [w for w in stated.warnings if "start_misdated" in w]
    unread = run(weekly, churn=False, misdated=share)
    assert [w for w in unread.warnings if w.startswith("assumptions.start_misdated is stated")]


@pytest.mark.parametrize(("days", "starts", "message"), [
    ([7, 2, 7], [0, 7, 9], None),           # a short second wave: the third may follow it
    ([7, 7], [0, 7, 14], "wave_days: gives 2 waves but wave_starts gives 3"),
    ([7, 9, 7], [0, 7, 14], "wave_starts[2]: waves must follow one another"),
    ([7, 7, 8], [0, 7, 357], "wave_starts[2]: the last wave ends after"),
])
def test_a_schedule_takes_one_length_per_wave(days, starts, message):
    """`wave_days` is one length for every wave or a list of one per wave; the list must
    match `wave_starts`, and each wave's own length decides whether the next overlaps it
    and whether the last ends inside the reference period."""
    from crowdcensus.config import validate
    from crowdcensus.errors import InputError

    data = {"reference_days": 364, "wave_days": days, "wave_starts": starts}
    if message is None:
        schedule = validate(Schedule, data, "study.toml")
        assert [schedule.days(i) for i in range(3)] == days
        assert validate(Schedule, {**data, "wave_days": 2}, "study.toml").days(1) == 2
        return
    with pytest.raises(InputError) as err:
        validate(Schedule, data, "study.toml")
    assert message in str(err.value) and len(str(err.value).splitlines()) == 1


def test_respondents_who_leave_the_frequency_blank_count_through_their_waves(tmp_path):
    """A tenth of the answers with the frequency left blank: the respondents stay in the
    joint model's capture histories with an answer not known (every rate gives it alike),
    the report says how many, and the tiers stay near those of the full answers."""
    from crowdcensus.pipeline import _read
    from crowdcensus.synthesis.activity import REPORT_UNKNOWN
    from crowdcensus.synthesis.data import synthesis_data

    study = load_study(SIMULATED)
    study = study.model_copy(update={"synthesis": study.synthesis.model_copy(
        update={"inference": "laplace"})})
    table = pd.read_csv(SIMULATED.parent / "responses.csv", dtype=str)
    blank = np.random.default_rng(0).random(len(table)) < 0.1
    table.loc[blank, "frequency"] = ""
    table.to_csv(tmp_path / "responses.csv", index=False)
    blanked = study.model_copy(update={"experiment": study.experiment.model_copy(
        update={"responses": str(tmp_path / "responses.csv")})})
    responses = _read(blanked)[0]
    first = table.loc[~table.duplicated("worker_hash")]
    unknown = int((first["frequency"].fillna("") == "").sum())
    assert responses.frequency_unanswered == unknown > 0 and responses.inattentive == 0
    data = synthesis_data(blanked, responses)
    reports = np.repeat(data.capture.group_report,
                        np.asarray(data.capture.group_count).round().astype(int))
    assert int((reports == REPORT_UNKNOWN).sum()) == unknown
    assert len(reports) == table["worker_hash"].nunique()
    full, part = run_study(study, draws=200), run_study(blanked, draws=200)
    assert any(w.startswith(f"{unknown:,} of ") and "left the frequency question blank" in w
               for w in part.warnings)
    for tier in TRUTH:
        assert part.combined[tier].estimate == pytest.approx(full.combined[tier].estimate,
                                                             rel=0.03), tier
