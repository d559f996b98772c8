"""Huggins' models M0, Mt, Mb against VGAM's posbernoulli.t / posbernoulli.b.

Tolerances (issue 10): abundance within 0.5%, SE within 1%, AIC within 0.05.
The R calls are in :mod:`tests.capture.reference.vgam` and on every row of the tables.
"""

from __future__ import annotations

import pandas as pd
import pytest

from crowdcensus.capture.closed.huggins import HugginsModel
from tests.capture.reference import vgam

EXPECTED = vgam.expected_huggins()
COEF = vgam.expected_coefficients()


def _frame(data: str, covariates: list[str]) -> pd.DataFrame:
    name = "deermice" if data == "deermice" else data
    frame = pd.read_csv(vgam.dataset(name))
    occasions = [c for c in frame.columns if c[0] in "yc" and c[1:].isdigit()]
    counts = [c for c in frame.columns if c == "freq"]
    return frame[occasions + covariates + counts]


def _fit(data: str, model: str, covariates: str) -> HugginsModel:
    covs = [c for c in covariates.split(",") if c]
    return HugginsModel(model, covariates=covs).fit(_frame(data, covs))


ROWS = list(EXPECTED.itertuples(index=False))


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.data}-{r.model}-{r.covariates or 'none'}"
                                           for r in ROWS])
def test_abundance_stderr_loglik_aic_against_vgam(row):
    m = _fit(row.data, row.model, row.covariates)
    assert m.status_ == "ok"
    assert m.abundance_ == pytest.approx(float(row.abundance), rel=5e-3)
    assert m.stderr_ == pytest.approx(float(row.stderr), rel=1e-2)
    assert m.aic_ == pytest.approx(float(row.aic), abs=0.05)
    assert m.loglik_ == pytest.approx(float(row.loglik), abs=0.025)


GROUPS = list(COEF.groupby(["data", "model", "covariates"], sort=False))


@pytest.mark.parametrize(("key", "rows"), GROUPS, ids=["-".join(k) for k, _ in GROUPS])
def test_coefficients_and_their_stderr_against_vgam(key, rows):
    data, model, covariates = key
    m = _fit(data, model, covariates)
    ours = m.coef_
    occasions = list(m.data_.occasions)
    for r in rows.itertuples(index=False):
        name = vgam.our_name(r.parameter, model, occasions)
        assert ours.loc[name, "coef"] == pytest.approx(float(r.coef), abs=2e-3, rel=1e-3), name
        assert ours.loc[name, "stderr"] == pytest.approx(float(r.stderr), rel=1e-2), name
    assert len(ours) == len(rows)


def test_weighted_rows_equal_one_row_per_individual():
    """The frequency-weighted file and its expansion give the same fit (R saw the expansion)."""
    frame = pd.read_csv(vgam.dataset("huggins_groups"))
    expanded = frame.loc[frame.index.repeat(frame["freq"])].drop(columns="freq")
    for model in ("M0", "Mt", "Mb"):
        a = HugginsModel(model, covariates=["group", "x"]).fit(frame)
        b = HugginsModel(model, covariates=["group", "x"]).fit(expanded)
        assert a.n_captured_ == b.n_captured_ == int(frame["freq"].sum())
        assert a.abundance_ == pytest.approx(b.abundance_, rel=1e-9)
        assert a.stderr_ == pytest.approx(b.stderr_, rel=1e-7)
        assert a.loglik_ == pytest.approx(b.loglik_, rel=1e-10)
