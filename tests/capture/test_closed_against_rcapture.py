"""Parity with Rcapture's closedp.t and closedpCI.t (see reference/rcapture.py for the R calls)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crowdcensus.capture import read_histories
from crowdcensus.capture.closed.model import ClosedPopulationModel, fit_closed_models
from tests.capture.reference import rcapture

EXPECTED = rcapture.closedp()
CASES = [(r.dataset, r.model) for r in EXPECTED.itertuples()]


@pytest.fixture(scope="module")
def tables():
    return {
        name: fit_closed_models(read_histories(rcapture.dataset(name)))
        for name in EXPECTED.dataset.unique()
    }


@pytest.mark.parametrize(("dataset", "model"), CASES)
def test_closedp_against_R(tables, dataset, model):
    """closedp.t: abundance and stderr within 0.1%, deviance/AIC/BIC within 0.01, df exact."""
    row = EXPECTED[(EXPECTED.dataset == dataset) & (EXPECTED.model == model)].iloc[0]
    fitted = tables[dataset][model]
    assert fitted.abundance_ == pytest.approx(row.abundance, rel=1e-3)
    assert fitted.stderr_ == pytest.approx(row.stderr, rel=1e-3)
    assert fitted.deviance_ == pytest.approx(row.deviance, abs=0.01)
    assert fitted.aic_ == pytest.approx(row.AIC, abs=0.01)
    assert fitted.bic_ == pytest.approx(row.BIC, abs=0.01)
    assert fitted.df_ == int(row.df)


def test_model_lists_match_R(tables):
    for dataset, table in tables.items():
        expected = list(EXPECTED[EXPECTED.dataset == dataset].model)
        assert [m.name_ for m in table.models] == expected


def test_chao_eta_set_to_zero_is_flagged(tables):
    """Rcapture drops eta5 for hare's Mh Chao (negative); our status says so."""
    m = tables["hare"]["Mh Chao (LB)"]
    assert m.status_ == "boundary: eta5=0"
    assert "eta5" not in m.coef_.index
    assert tables["hare"]["Mth Chao (LB)"].status_ == "ok"


@pytest.mark.parametrize("row", list(rcapture.profile_ci().itertuples()), ids=lambda r: r.model)
def test_profile_interval_against_R(row):
    """closedpCI.t: multinomial estimate and 95% profile bounds within 0.5%."""
    data = read_histories(rcapture.dataset(row.dataset))
    m = ClosedPopulationModel(row.model, ci="profile").fit(data)
    assert m.ci_abundance_ == pytest.approx(row.ci_abundance, rel=5e-3)
    lo, hi = m.confidence_interval_
    assert lo == pytest.approx(row.ci_low, rel=5e-3)
    assert hi == pytest.approx(row.ci_high, rel=5e-3)
    assert lo < m.ci_abundance_ < hi


@pytest.mark.parametrize("row", list(rcapture.profile_ci_generated().itertuples()),
                         ids=lambda r: f"{r.dataset}-{r.model}")
def test_profile_interval_on_generated_tables_against_R(row):
    """closedpCI.t on seven generated tables (3 to 14 occasions), seven models each:
    the same 0.5%. Where R sets the lower bound to n ("the CI lower bound is set to the
    sample size n": its likelihood, with Stirling's approximation of the factorials for
    N > 100, never falls to the cut-off near n), so does this profile, or it falls to
    the cut-off within 0.5% of n (3 occasions, Mt: 107.3 for R's n = 107)."""
    data = read_histories(Path(__file__).parent / "data" / "generated" / "hist"
                          / f"{row.dataset}.csv")
    m = ClosedPopulationModel(row.model, ci="profile").fit(data)
    assert m.ci_abundance_ == pytest.approx(row.ci_abundance, rel=5e-3)
    lo, hi = m.confidence_interval_
    assert lo == pytest.approx(row.ci_low, rel=5e-3) and lo >= data.n_captured
    assert hi == pytest.approx(row.ci_high, rel=5e-3)
    if "set to the sample size" in row.warnings:
        assert lo == pytest.approx(data.n_captured, rel=5e-3)
