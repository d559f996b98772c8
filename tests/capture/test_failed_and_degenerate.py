"""A failed fit never shows a number; degenerate fits say so; comparisons leave them out.

The sparse data set (5 occasions, 98 caught, one recapture) and Rcapture's output on it
are in ``data/generated/hist/sparse5.csv`` and ``expected_closedpt_generated.tsv``
(``closedp.t(sparse5, dfreq = TRUE)``, see ``reference/rcapture.py``).
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from crowdcensus.capture import glm, load_hare
from crowdcensus.capture.closed import ClosedPopulationModel, fit_closed_models
from crowdcensus.capture.closed.comparison import distinct_usable_models, same_fit
from crowdcensus.capture.closed.design import heterogeneity_columns
from crowdcensus.capture.closed.recession import abundance_direction, time_effects_direction
from crowdcensus.capture.histories import CaptureHistories
from crowdcensus.capture.readers import read_histories
from crowdcensus.methods.experiment import model_average
from tests.capture.reference import rcapture
from tests.test_cli_estimate_closed import run

SPARSE = rcapture.generated("hist", "sparse5")
R_SPARSE = rcapture.closedpt_generated().query("dataset == 'sparse5'")


@pytest.fixture(scope="module")
def sparse_table():
    return fit_closed_models(read_histories(SPARSE))


def test_degenerate_exactly_where_rcapture_warns(sparse_table):
    """Rcapture warns "fitted rates numerically 0" for the six Mh/Mth Poisson2, Darroch and
    Gamma3.5 fits (N = 98.0 to 103.0 with SEs from 0.09 to 15,897): they are degenerate,
    with the limit N = n and no standard error; the other six are fits as usual."""
    warned = set(R_SPARSE[R_SPARSE.warnings.str.contains("fitted rates numerically 0")].model)
    assert len(warned) == 6
    for m in sparse_table.models:
        assert m.status_.startswith("degenerate") == (m.name_ in warned), m.name_
        if m.name_ in warned:
            assert m.abundance_ == 98 and math.isnan(m.stderr_)
            assert not m.usable
            row = m.to_row()
            assert row["abundance"] == 98 and row["stderr"] is None
            assert row["status"].startswith("degenerate")


def test_sparse_text_and_json(capsys):
    code, out, _ = run(capsys, "estimate", "closed", str(SPARSE))
    assert code == 0
    line = next(ln for ln in out.splitlines() if ln.startswith("Mh Darroch"))
    assert "\u2014" in line and "degenerate" in line
    assert "Mh Chao (LB) is the same fit as M0" in out
    assert "Mth Chao (LB) is the same fit as Mt" in out
    code, out, _ = run(capsys, "estimate", "closed", str(SPARSE), "--format", "json")
    rows = {r["model"]: r for r in json.loads(out)["models"]}
    assert rows["Mh Gamma3.5"]["stderr"] is None
    assert rows["M0"]["stderr"] == pytest.approx(3861.05, rel=1e-4)  # R: 3861.048972


def test_model_average_leaves_degenerate_out_and_counts_twins_once(sparse_table):
    """Before: the degenerate fits took 23% of the weight and M0/Mh Chao, Mt/Mth Chao
    were counted twice. Now: only M0, Mt, Mb and Mbh are averaged."""
    kept, left_out = distinct_usable_models(sparse_table.models)
    assert [m.name_ for m in kept] == ["M0", "Mt", "Mb", "Mbh"]
    assert left_out["Mh Chao (LB)"] == "same fit as M0"
    assert left_out["Mth Chao (LB)"] == "same fit as Mt"
    assert all(left_out[name].startswith("degenerate") for name in
               ("Mh Poisson2", "Mh Darroch", "Mh Gamma3.5", "Mth Poisson2", "Mth Darroch"))
    avg = model_average(sparse_table.models, 98)
    table = avg.table.set_index("model")
    assert list(table.index[table.used]) == ["M0", "Mt", "Mb", "Mbh"]
    assert table.weight.sum() == pytest.approx(1.0)
    # by hand over the four distinct usable fits
    aic = np.array([m.aic_ for m in kept])
    w = np.exp(-0.5 * (aic - aic.min()))
    w /= w.sum()
    assert avg.estimate == pytest.approx(float(w @ [m.abundance_ for m in kept]), rel=1e-12)
    assert "same fit as M0" in table.loc["Mh Chao (LB)", "status"]


def test_same_fit_needs_every_figure_to_agree(sparse_table):
    m0, mt = sparse_table["M0"], sparse_table["Mt"]
    assert same_fit(m0, sparse_table["Mh Chao (LB)"])
    assert not same_fit(m0, mt)
    shifted = dataclasses.make_dataclass("F", ["name_", "abundance_", "stderr_", "aic_",
                                               "status_"])
    a = shifted("A", 100.0, 10.0, 50.0, "ok")
    assert same_fit(a, shifted("B", 100.00001, 10.0, 50.0, "ok"))
    assert not same_fit(a, shifted("B", 100.01, 10.0, 50.0, "ok"))
    assert not same_fit(a, shifted("B", 100.0, 10.0, 50.1, "ok"))


def test_a_failed_fit_never_shows_a_number(monkeypatch, capsys):
    """Force the Poisson fits not to converge: nan in Python, null in JSON, an em dash in
    the table, 'not converged' as status, and no part in comparisons."""
    real = glm.fit_poisson

    def failing(*args, **kwargs):
        return dataclasses.replace(real(*args, **kwargs), converged=False)

    monkeypatch.setattr("crowdcensus.capture.closed.loglinear.fit_poisson", failing)
    m = ClosedPopulationModel("M0").fit(load_hare())
    assert m.status_ == "not converged"
    for value in (m.abundance_, m.stderr_, m.deviance_, m.aic_, m.bic_):
        assert math.isnan(value)
    row = m.to_row()
    assert [row[k] for k in ("abundance", "stderr", "deviance", "aic", "bic")] == [None] * 5
    assert not m.usable
    code, out, _ = run(capsys, "estimate", "closed", str(rcapture.dataset("hare")), "-m", "M0")
    line = next(ln for ln in out.splitlines() if ln.startswith("M0"))
    # the degrees of freedom belong to the model, not to the fit: they stay
    assert line.split()[1:7] == ["\u2014"] * 3 + ["61"] + ["\u2014"] * 2
    assert line.endswith("not converged")
    assert "nan" not in out.lower() and "inf" not in out.split("Closed forms")[0]
    with pytest.raises(Exception, match="usable"):
        model_average([m], 68)


def test_report_shows_em_dash_not_nan():
    from crowdcensus.report.html import _fixed, _number

    assert _number(math.nan) == _fixed(math.nan) == "\u2014"
    assert _fixed(12.345) == "12.35" and _number(12.345) == "12.35"


# --- directions of recession, on cases worked by hand ------------------------------------
def _freq_design(het, t, f):
    k = np.arange(1, t + 1, dtype=float)
    cols = [np.ones(t), k]
    if het:
        cols.append(heterogeneity_columns(het, k, t)[0][:, 0])
    X = np.column_stack(cols)
    x0 = np.zeros(X.shape[1])
    x0[0] = 1.0
    return X, np.asarray(f, dtype=float), x0


def test_recession_cases_by_hand():
    # nobody caught twice: (1, k) with y = (n, 0, ...) -> d = (1, -1) raises the unseen cell
    assert abundance_direction(*_freq_design(None, 5, [98, 0, 0, 0, 0])) == "inf"
    # one recapture, M0: two equations, two unknowns -> d = 0
    assert abundance_direction(*_freq_design(None, 5, [97, 1, 0, 0, 0])) is None
    # Poisson2: d0 + d1 + d2 = 0, d0 + 2 d1 + 3 d2 = 0 -> d = (-1, 2, -1) empties k >= 3
    # and the unseen cell (d0 < 0): N -> n
    assert abundance_direction(*_freq_design("Poisson2", 5, [97, 1, 0, 0, 0])) == "n"
    assert abundance_direction(*_freq_design("Darroch", 5, [97, 1, 0, 0, 0])) == "n"
    assert abundance_direction(*_freq_design("Darroch", 5, [60, 20, 5, 1, 0])) is None


def test_recession_without_the_full_table():
    t = 12
    H = np.zeros((98, t), dtype=int)
    H[np.arange(97), np.arange(97) % t] = 1
    H[97, [1, 3]] = 1
    data = CaptureHistories.from_matrix(H)
    observed = data.histories[data.counts > 0]
    ks = np.arange(t + 1, dtype=float)
    poisson = heterogeneity_columns("Poisson2", ks, t)[0]
    assert time_effects_direction(observed, poisson, np.zeros(1)) == "n"
    assert time_effects_direction(observed, np.zeros((t + 1, 0)), np.zeros(0)) is None
    singles = np.eye(t, dtype=int)
    assert time_effects_direction(singles, np.zeros((t + 1, 0)), np.zeros(0)) == "inf"
    table = fit_closed_models(data, models=["Mth Poisson2", "Mth Darroch", "Mt"])
    assert table["Mth Poisson2"].status_.startswith("degenerate")
    assert table["Mth Darroch"].status_.startswith("degenerate")
    assert table["Mt"].usable


def test_a_suspect_fit_is_checked_for_recession_whatever_its_information():
    """How far Newton's iterations go towards a receding fit depends on the machine's
    rounding; a fit that did not converge or left nobody unseen runs the linear program
    even when its information matrix does not look singular."""
    from crowdcensus.capture.closed.timeeffects import TimeEffectsDesign

    t = 12
    H = np.zeros((98, t), dtype=int)
    H[np.arange(97), np.arange(97) % t] = 1
    H[97, [1, 3]] = 1
    design = TimeEffectsDesign("Mth Poisson2", CaptureHistories.from_matrix(H))
    well_conditioned = np.eye(t + 2)
    assert design._direction(well_conditioned) is None
    assert design._direction(well_conditioned, suspect=True) == "n"
