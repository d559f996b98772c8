"""The embedded France 2018 example: the published DiPLab arithmetic to the unit (the
inverse-variance baseline, one method per tier), and the joint model beside it."""

from __future__ import annotations

import pytest

from crowdcensus.pipeline import run_study
from crowdcensus.tiers import BANDS

from .conftest import FRANCE

PUBLISHED = {"occasional": 266_126, "regular": 52_337, "very_active": 14_903}


@pytest.fixture(scope="module")
def results():
    # the example's own inference (NUTS), as its report uses: on these aggregates the
    # normal approximation is several times too wide, and the mean of a ratio of its
    # draws (the very active share below) is its tails' (0.080 against NUTS's 0.058)
    return run_study(FRANCE, draws=1000, inference="nuts")


def test_reproduces_published_tiers_to_the_unit(results):
    for tier, published in PUBLISHED.items():
        assert round(results.baseline[tier].estimate) == published, tier


def test_joint_model_under_the_same_inputs(results):
    """Nested tiers; declarations can only overstate, so the joint occasional tier stays
    below the declared figure / multi-homing; the very active share is the stated one."""
    j = results.combined
    assert set(j) == {"occasional", "regular", "very_active"}
    draws = results.joint.tier_draws
    assert (draws["very_active"] <= draws["regular"]).all()
    assert (draws["regular"] <= draws["occasional"]).all()
    assert j["occasional"].estimate < PUBLISHED["occasional"]
    assert j["occasional"].low < j["occasional"].estimate < j["occasional"].high
    share = draws["very_active"] / draws["occasional"]
    assert 0.035 < float(share.mean()) < 0.08       # the stated range of the share
    bias = results.joint.biases.set_index("quantity")["estimate"]
    assert bias["Declared registrations / registrations of people who work"] >= 1.0


def test_each_tier_comes_from_the_method_the_study_used(results):
    assert results.methods["declared"]["occasional"].estimate == pytest.approx(337_980 / 1.27)
    assert results.methods["audience"]["regular"].estimate == pytest.approx(66_468 / 1.27)
    assert results.methods["experiment"]["very_active"].estimate == \
        pytest.approx(0.056 * 337_980 / 1.27)
    assert results.intermediates["declared.registrations"].estimate == 337_980
    assert results.intermediates["audience.worker_visitors"].estimate == 66_468


def test_inputs_are_marked_published_or_derived(results):
    status = {p.path: p.status for p in results.parameters}
    assert status["assumptions.multihoming"] == "published"
    assert status["platforms[0].declared"] == "derived"
    assert status["experiment.shares.very_active"] == "derived"
    assert all(p.source == "diplab2019" for p in results.parameters)


def test_intervals_surround_the_point_and_bands_add_up(results):
    for tier, iv in results.baseline.items():
        assert iv.low < iv.estimate < iv.high, tier
    total = sum(results.baseline_disjoint[b].estimate for b in BANDS)
    assert total == pytest.approx(results.baseline["occasional"].estimate)
    assert results.baseline_disjoint["regular_only"].estimate == \
        pytest.approx(66_468 / 1.27 - 0.056 * 337_980 / 1.27)
    assert round(results.baseline_disjoint["occasional_only"].estimate) == 266_126 - 52_337
    draws = results.joint.tier_draws
    bands = sum(draws[f"band:{b}"] for b in BANDS)
    assert bands == pytest.approx(draws["occasional"])


def test_sensitivity_by_hand(results):
    sens = results.sensitivity.set_index(["tier", "parameter"])
    row = sens.loc[("occasional", "assumptions.multihoming")]
    assert row["tier_at_low"] == pytest.approx(337_980 / 1.10)
    assert row["tier_at_high"] == pytest.approx(337_980 / 1.50)
    # the multi-homing coefficient moves the occasional tier most
    occ = results.sensitivity[results.sensitivity["tier"] == "occasional"]
    assert occ.iloc[0]["parameter"] == "assumptions.multihoming"
    # the audience does not enter the occasional tier: no row for it
    assert ("occasional", "platforms[0].audience.visitors") not in sens.index
    va = sens.loc[("very_active", "experiment.shares.very_active")]
    assert va["tier_at_high"] == pytest.approx(0.08 * 337_980 / 1.27)


def test_the_chains_run_on_until_the_bounds_are_precise(results):
    """``crowdcensus run`` lets NUTS's chains run on, doubling their draws, while a tier's
    interval bound carries a Monte Carlo error above 5% of itself (or until they may run
    on no more); the report's line on inference says why they ran on, and the warning on
    the bounds' error comes only where they stopped short."""
    from crowdcensus.report.html import render_html
    from crowdcensus.study import load_study
    from crowdcensus.synthesis import inference
    from crowdcensus.synthesis.summary import BOUND_ERROR_WARNING

    j = results.joint
    diag = j.diagnostics
    tier, side, bound, err = j.largest_bound_error
    longest = 1 + max(inference.NUTS_EXTENSIONS, inference.PRECISION_EXTENSIONS)
    assert err <= BOUND_ERROR_WARNING * bound or diag["runs"] == longest
    assert (err > BOUND_ERROR_WARNING * bound) == any(
        "Monte Carlo error of up to" in w for w in results.warnings)
    assert len(diag["ran_on"]) == diag["runs"] - 1
    assert diag["draws"] == load_study(FRANCE).synthesis.draws * 2 ** len(diag["ran_on"])
    html = render_html(results, {}).replace("&#39;", "'")
    assert f"2 chains of {diag['draws']:,} draws" in html
    if diag["ran_on"]:
        assert f"(run on while: {diag['ran_on'][0].split(' (')[0]}" in html


def test_a_tier_the_report_does_not_print_is_not_run_on_for():
    """Without the experiment's share, no method measures the very active tier and the
    report does not print it: its bounds' Monte Carlo error is neither kept, nor
    warned of, nor run on for."""
    from crowdcensus.study import load_study

    study = load_study(FRANCE)
    study = study.model_copy(update={"experiment": study.experiment.model_copy(
        update={"shares": {}})})
    r = run_study(study, draws=300, inference="nuts", seed=3)
    assert set(r.combined) == {"occasional", "regular"}
    assert any("no method measures the very active tier" in w for w in r.warnings)
    assert set(r.joint.bound_errors) == {"occasional", "regular"}
    assert r.joint.largest_bound_error[0] != "very_active"
    assert not any("very active" in why for why in r.joint.diagnostics["ran_on"])
    assert not any("very active tier's" in w for w in r.warnings)
