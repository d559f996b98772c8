"""Power-scaling prior sensitivity: closed forms on prior draws, and a refit on France."""

from __future__ import annotations

import dataclasses
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from crowdcensus.synthesis.priors import Prior, Priors
from crowdcensus.synthesis.sensitivity import (
    COLUMNS,
    effective_share,
    log_density,
    power_weights,
    prior_sensitivity,
    prior_warning,
)

FRANCE = Path(str(files("crowdcensus") / "examples" / "france-2018"))


def _priors(**changes) -> Priors:
    fixed = Prior("x", "fixed", "fixed", (1.0,))
    base = {"dormant_share": fixed, "declaration_inflation": fixed,
            "visitors_per_person": fixed, "misreport": fixed, "worker_share": (),
            "multihoming": None}
    return Priors(**{**base, **changes})


def test_each_density_is_the_one_that_defines_the_prior():
    # a Beta on the share (a density over (0, 1)); normals on a logit and on a logarithm
    beta = Prior("s", "", "beta", (1.5, 10.0))
    total, _ = integrate.quad(lambda x: np.exp(log_density(beta, np.array([x]))[0]), 0, 1)
    assert total == pytest.approx(1.0, rel=1e-6)
    z = np.linspace(-4, 3, 8)
    logit = Prior("s", "", "logitnormal", (-1.0, 0.7))
    np.testing.assert_allclose(log_density(logit, 1 / (1 + np.exp(-z))),
                               stats.norm.logpdf(z, -1.0, 0.7), rtol=1e-9)
    factor = Prior("f", "", "lognormal_ge1", (0.1, 0.3))
    np.testing.assert_allclose(log_density(factor, np.exp(z[z >= 0])),
                               stats.norm.logpdf(z[z >= 0], 0.1, 0.3), rtol=1e-9)
    assert not np.isfinite(log_density(factor, np.array([0.99])))[0]   # truncated at 1


def test_powers_of_a_beta_prior_move_the_tier_as_the_closed_form_says():
    # no data: the posterior is the prior, Beta(1, 3); its square and square root are
    # Beta(1, 5) and Beta(1, 2), whose medians of 1000 (1 - d) are 1000 * 0.5 ** (1 / b)
    rng = np.random.default_rng(4)
    d = rng.beta(1.0, 3.0, 200_000)
    dormant = Prior("dormant_share", "Dormant", "beta", (1.0, 3.0), origin="default")
    out = prior_sensitivity({"dormant_centre": d}, _priors(dormant_share=dormant),
                            {"occasional": 1000 * (1 - d)})
    row = out.iloc[0]
    assert row["estimate"] == pytest.approx(1000 * 0.5 ** (1 / 3), rel=2e-3)
    assert row["weaker"] == pytest.approx(1000 * 0.5 ** (1 / 2), rel=3e-3)
    assert row["stronger"] == pytest.approx(1000 * 0.5 ** (1 / 5), rel=3e-3)
    assert row["reliable"] and 0.5 < row["ess_share"] < 1


def test_powers_of_a_factor_prior_narrow_or_widen_its_spread():
    # a half-normal on log v of sd 0.2: to the power alpha, a half-normal of sd 0.2 / sqrt(a)
    rng = np.random.default_rng(5)
    v = np.exp(np.abs(rng.normal(0, 0.2, 200_000)))
    prior = Prior("visitors_per_person", "Visitors", "lognormal_ge1", (0.0, 0.2))
    out = prior_sensitivity({"visitors_per_person": v}, _priors(visitors_per_person=prior),
                            {"regular": 500 / v}).iloc[0]
    q = stats.norm.ppf(0.75)   # the median of a half-normal is sd * q
    assert out["weaker"] == pytest.approx(500 * np.exp(-0.2 / np.sqrt(0.5) * q), rel=3e-3)
    assert out["stronger"] == pytest.approx(500 * np.exp(-0.2 / np.sqrt(2) * q), rel=3e-3)


def test_every_prior_at_once_is_the_product_of_the_scaled_priors():
    # two independent priors and no data; to the power 2 each is scaled on its own:
    # Beta(1, 3) -> Beta(1, 5), a half-normal of sd 0.2 on log v -> sd 0.2 / sqrt(2)
    rng = np.random.default_rng(6)
    n = 400_000
    d, v = rng.beta(1.0, 3.0, n), np.exp(np.abs(rng.normal(0, 0.2, n)))
    priors = _priors(dormant_share=Prior("dormant_share", "D", "beta", (1.0, 3.0)),
                     visitors_per_person=Prior("visitors_per_person", "V", "lognormal_ge1",
                                               (0.0, 0.2)))
    out = prior_sensitivity({"dormant_centre": d, "visitors_per_person": v}, priors,
                            {"occasional": 1000 * (1 - d) / v})
    assert list(out["parameter"]) == ["all", "dormant_share", "visitors_per_person"]
    d2, v2 = rng.beta(1.0, 5.0, n), np.exp(np.abs(rng.normal(0, 0.2 / np.sqrt(2), n)))
    assert out.iloc[0]["stronger"] == pytest.approx(np.median(1000 * (1 - d2) / v2), rel=4e-3)
    # with one prior scaled there is no row for all of them
    one = prior_sensitivity({"dormant_centre": d}, priors, {"occasional": 1000 * (1 - d)})
    assert list(one["parameter"]) == ["dormant_share"]


def test_uneven_weights_are_flagged_not_read():
    assert effective_share(np.full(10, 0.1)) == pytest.approx(1.0)
    # the posterior piled where the prior is steep: Beta(6, 1.5) near 1
    x = np.concatenate([np.full(990, 0.6), 1 - np.logspace(-12, -3, 10)])
    prior = Prior("worker_share_0", "Workers", "beta", (6.0, 1.5))
    w = power_weights(log_density(prior, x), 0.5)
    assert effective_share(w) < 0.1
    out = prior_sensitivity({"worker_share_0": x}, _priors(worker_share=(prior,)),
                            {"very_active": 100 * x})
    assert not out.iloc[0]["reliable"]


def test_fixed_priors_and_missing_sites_give_no_row():
    out = prior_sensitivity({"workers": np.ones(5)}, _priors(), {"occasional": np.ones(5)})
    assert out.empty


def test_reweighted_figures_match_a_refit_with_the_prior_changed():
    """On France (no experiment, so the occasional tier rests on the dormant share's default
    prior): the reweighted medians against Laplace refits with Beta(1, 2) and Beta(1, 5)."""
    from crowdcensus.pipeline import _read
    from crowdcensus.study import load_study
    from crowdcensus.synthesis.data import synthesis_data
    from crowdcensus.synthesis.inference import fit_joint
    from crowdcensus.synthesis.summary import tier_draws

    study = load_study(FRANCE / "study.toml")
    data = synthesis_data(study, _read(study)[0])
    assert data.priors.dormant_share.params == (1.0, 3.0)

    def occasional(d) -> tuple[dict, dict]:
        post = fit_joint(d, method="laplace", seed=0, predictive=False)
        s = {k: np.asarray(v) for k, v in post.samples.items()}
        return s, tier_draws(s)

    s, draws = occasional(data)
    out = prior_sensitivity(s, data.priors, draws)
    assert list(out.groupby("tier", sort=False)["parameter"].first()) == ["all"] * 3
    top = out[(out.tier == "occasional") & (out.parameter != "all")].iloc[0]
    assert top["assumption"] == data.priors.dormant_share.label
    # a dormant share prior twice as strong piles more mass at 0: more workers
    assert top["weaker"] < top["estimate"] < top["stronger"]
    assert abs(top["change_stronger"]) > 0.05
    for b, column in ((2.0, "weaker"), (5.0, "stronger")):
        prior = dataclasses.replace(data.priors.dormant_share, params=(1.0, b))
        refit = dataclasses.replace(data, priors=dataclasses.replace(data.priors,
                                                                     dormant_share=prior))
        _, d = occasional(refit)
        assert top[column] == pytest.approx(float(np.median(d["occasional"])), rel=0.04)


def _row(tier, parameter, origin, weaker, stronger, reliable=True) -> dict:
    return dict(zip(COLUMNS, [tier, parameter.title(), parameter, origin, 100.0,
                              100 * (1 + weaker), 100 * (1 + stronger), weaker, stronger,
                              0.8 if reliable else 0.05, reliable], strict=True))


def test_a_tier_that_moves_with_a_default_prior_is_warned_of_with_the_field_to_state():
    import pandas as pd

    table = pd.DataFrame([
        _row("occasional", "dormant_share", "default", -0.091, 0.114),
        _row("very_active", "dormant_share", "default", -0.077, 0.122),
        _row("regular", "worker_share_1", "default", -0.051, 0.02),
        _row("regular", "dormant_share", "default", -0.02, 0.01),          # too small
        _row("occasional", "misreport", "assumptions.misreport", -0.3, 0.3),  # stated
        _row("regular", "visitors_per_person", "default", -0.4, 0.4, reliable=False),
    ], columns=COLUMNS)
    said = prior_warning(table)
    assert len(said) == 2
    assert said[0].startswith("the occasional and very active tiers rest on the default "
                              "prior of the assumption 'Dormant_Share'")
    assert "occasional -9.1% and +11.4%, very active -7.7% and +12.2%" in said[0]
    assert "regular" not in said[0] and "state assumptions.dormant_share" in said[0]
    assert said[1].startswith("the regular tier rests on") and \
        "platforms[1].audience.worker_share" in said[1]
    assert prior_warning(table.iloc[3:]) == []


def test_the_take_up_readings_priors_are_rows_of_their_own_that_warn_of_nothing():
    """The priors of the take-up slope and of the chance of seeing the task come after the
    assumptions', outside the row of all at once; with one model alone their weights are
    plain power-scaling; in an average they move that model's probability too."""
    from crowdcensus.methods.experiment import TAKEUP_SLOPE_SD
    from crowdcensus.synthesis.sensitivity import MODEL_ORIGIN

    rng = np.random.default_rng(4)
    n = 8000
    d = rng.beta(1, 3, n)
    gamma = rng.normal(0.6, 0.2, n)
    occasional = 1000 * (1 - d) * np.exp(0.5 * gamma)
    alone = prior_sensitivity({"dormant_centre": d, "takeup_slope": gamma},
                              _priors(dormant_share=Prior("dormant_share", "d", "beta",
                                                          (1.0, 3.0))),
                              {"occasional": occasional})
    row = alone[alone.parameter == "takeup_slope"].iloc[0]
    assert row["origin"] == MODEL_ORIGIN
    lp = stats.norm.logpdf(gamma, 0, TAKEUP_SLOPE_SD)
    w = power_weights(lp, 2.0)
    order = np.argsort(occasional)
    plain = occasional[order][np.searchsorted(np.cumsum(w[order]), 0.5)]
    assert row["stronger"] == pytest.approx(plain, rel=1e-12)
    # a stronger prior around 0 pulls the slope, and the tier with it, down
    assert row["stronger"] < row["estimate"] < row["weaker"]
    assert "all" not in set(alone.parameter)    # one assumption: no row of all at once
    assert prior_warning(alone[alone.parameter == "takeup_slope"]) == []

    # averaged: half the draws from the model without the slope (gamma held at 0)
    models = rng.random(n) < 0.5
    mixed = {"slope_model": models.astype(float), "takeup_slope": np.where(models, gamma, 0),
             "log_sight": np.where(models, 0, rng.normal(-0.3, 0.1, n))}
    tier = {"occasional": np.where(models, 1200.0, 1000.0) + rng.normal(0, 10, n)}
    rows = prior_sensitivity(mixed, _priors(), tier, 0.5)
    assert list(rows.parameter) == ["takeup_slope", "log_sight"] or \
        list(rows.parameter) == ["log_sight", "takeup_slope"]
    slope = rows[rows.parameter == "takeup_slope"].iloc[0]
    # the slope sits 1.2 of its prior's sd from 0: a wider prior lets it rise, and the
    # tier with it, a narrower one pulls it towards 0
    assert slope["weaker"] > slope["estimate"] > slope["stronger"]
    assert slope["reliable"]
