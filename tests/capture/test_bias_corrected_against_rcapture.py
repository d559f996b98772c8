"""Bias-corrected estimates (Rcapture's ``closedp.bc``): parity, closed forms, CLI.

R calls: ``reference/rcapture.py`` (``closedp.bc`` for every model on the hare data, on
13 generated history tables with t = 3..14 and, for M0 and Mh, on 60 generated frequency
tables with t = 2..100).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from crowdcensus.capture import load_hare
from crowdcensus.capture.closed.bias_corrected import (
    BIAS_CORRECTED_MODELS,
    bias_corrected_estimate,
    bias_corrected_estimates,
)
from crowdcensus.capture.closed.forms import chapman
from crowdcensus.capture.histories import CaptureFrequencies, CaptureHistories
from crowdcensus.capture.readers import read_frequencies, read_histories
from tests.capture.reference import rcapture
from tests.capture.test_large_t_against_rcapture import FREQ, R_FAILED, m0_equations

HIST = rcapture.closedpbc_generated("hist")
FREQ_BC = rcapture.closedpbc_generated("freq")


def _check_row(r, est, n):
    """One R row: not available where R refuses; where our fit is degenerate, R's sits
    within 0.1% of the limit n (Rcapture reports no warning there: closedp.bc drops
    glm's); else abundance within 1e-6 and standard error within 5e-4 (R's glm
    precision)."""
    if r.note.startswith(("the biais correction cannot", "heterogeneous models require")):
        assert est.status.startswith("not available"), r.model
        return
    assert not r.note, r.note
    if est.status.startswith("degenerate"):
        assert n <= r.abundance < 1.001 * n, r.model  # R stops near the limit
        assert est.abundance == n and math.isnan(est.stderr)
        return
    assert est.status == "ok" or est.status.startswith("boundary"), (r.model, est.status)
    assert est.abundance == pytest.approx(r.abundance, rel=1e-6), r.model
    assert est.stderr == pytest.approx(r.stderr, rel=5e-4), r.model


@pytest.mark.parametrize("name", sorted(HIST.dataset.unique()))
def test_closedp_bc_on_histories_against_R(name):
    data = read_histories(rcapture.generated("hist", name))
    for r in HIST[HIST.dataset == name].itertuples():
        _check_row(r, bias_corrected_estimate(data, r.model), data.n_captured)


def test_closedp_bc_on_hare_against_R():
    data = load_hare()
    rows = rcapture.closedpbc_hare()
    assert list(rows.model) == list(BIAS_CORRECTED_MODELS)
    assert [e.model for e in bias_corrected_estimates(data)] == list(rows.model)
    for r in rows.itertuples():
        _check_row(r, bias_corrected_estimate(data, r.model), data.n_captured)


@pytest.mark.parametrize("name", sorted(FREQ_BC.dataset.unique()))
def test_closedp_bc_on_frequencies_against_R(name):
    """M0 and Mh on t = 2..100. Where closedp.0's glm does not converge on the same table
    (t >= 60: closedp.bc hides the warning), M0 is checked against its likelihood
    equations on the corrected frequencies instead, and Mh Poisson2 is left out."""
    rows = FREQ_BC[FREQ_BC.dataset == name]
    t = int(rows.t.iloc[0])
    data = read_frequencies(rcapture.generated("freq", name), t)
    for r in rows.itertuples():
        est = bias_corrected_estimate(data, r.model)
        plain = FREQ[(FREQ.dataset == name) & (FREQ.model == r.model)]
        if len(plain) and R_FAILED in plain.warnings.iloc[0]:
            if r.model == "M0":
                f = data.f.astype(float)
                f[:2] += [-0.5, 1.0]
                N, se = m0_equations(f, t)
                assert est.abundance == pytest.approx(N - f.sum() + data.n_captured, rel=1e-8)
            continue
        _check_row(r, est, data.n_captured)


def test_mt_two_occasions_is_chapman():
    """closedp.bc's Mt with two occasions is Chapman's estimator (Seber 1982, p. 60)."""
    data = CaptureHistories.from_matrix([[1, 1]] * 30 + [[1, 0]] * 50 + [[0, 1]] * 40)
    est = bias_corrected_estimate(data, "Mt")
    ch = chapman(marked=80, caught=70, recaptured=30)
    assert est.abundance == pytest.approx(ch.abundance, rel=1e-12)
    assert est.stderr == pytest.approx(ch.stderr, rel=1e-12)


def test_chao_by_hand():
    """f1 = 20, f2 = 5, t = 4, n = 30: N = 30 + 3 * 20 * 19 / (8 * 6) = 53.75."""
    data = CaptureFrequencies.from_counts(np.array([1, 2, 3]), np.array([20, 5, 5]), 4)
    est = bias_corrected_estimate(data, "Mh Chao (LB)")
    assert est.abundance == pytest.approx(53.75)
    var = 23.75 + 9 * 20 * 19 * (400 + 400 + 60 - 30 - 6) / (4 * 16 * 36 * 7)
    assert est.stderr == pytest.approx(math.sqrt(var))


def test_no_correction_where_rcapture_has_none():
    data = load_hare()
    assert bias_corrected_estimate(data, "Mth Gamma3.5").status.startswith("not available")
    freq = CaptureFrequencies.from_counts(np.array([1, 2]), np.array([20, 5]), 6)
    assert [e.model for e in bias_corrected_estimates(freq)] == [
        "M0", "Mh Chao (LB)", "Mh Poisson2", "Mh Darroch", "Mh Gamma3.5"]
    assert bias_corrected_estimate(freq, "Mt").status.startswith("not available")


def test_cli_bias_corrected(capsys):
    from tests.test_cli_estimate_closed import HARE, run

    code, out, _ = run(capsys, "estimate", "closed", HARE, "--bias-corrected", "--format",
                       "json")
    assert code == 0
    doc = json.loads(out)
    rows = {r["model"]: r for r in doc["bias_corrected"]}
    assert list(rows) == list(BIAS_CORRECTED_MODELS)
    assert set(rows["M0"]) == {"model", "abundance", "stderr", "status"}
    assert rows["Mh Darroch"]["abundance"] == pytest.approx(88.02311354, rel=1e-6)
    code, out, _ = run(capsys, "estimate", "closed", HARE, "--bias-corrected", "-m", "M0")
    assert code == 0
    assert "Bias-corrected estimates" in out and "75.4" in out
    code, _, err = run(capsys, "estimate", "closed", HARE, "--bias-corrected",
                       "--interactions", "c1:c2")
    assert code == 2 and "cannot be combined" in err


def test_cli_bias_corrected_needs_finite_t(capsys, tmp_path):
    from tests.test_cli_estimate_closed import run

    f = tmp_path / "f.csv"
    f.write_text("nbcap,freq\n1,20\n2,5\n3,2\n")
    code, _, err = run(capsys, "estimate", "closed", str(f), "--nbcap", "--t", "inf",
                       "--bias-corrected")
    assert code == 2 and "finite number of occasions" in err
