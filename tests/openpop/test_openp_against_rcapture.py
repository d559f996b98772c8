"""Parity with Rcapture's ``openp`` on the duck data (numbers in reference.py)."""

from pathlib import Path

import numpy as np
import pytest

from crowdcensus.capture.open.model import OpenPopulationModel
from crowdcensus.capture.readers import read_histories

from . import reference as ref

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def duck():
    return OpenPopulationModel().fit(read_histories(DATA / "duck.csv"))


def check_series(estimates, stderrs, expected, digits_est, digits_se):
    for est, se, exp in zip(estimates, stderrs, expected, strict=True):
        if exp is None:
            assert np.isnan(est) and np.isnan(se)
            continue
        e, s = exp
        # printed values are rounded: allow the rounding on top of the relative target
        assert abs(est - e) <= max(ref.RTOL_ESTIMATE * abs(e), 0.5 * 10**-digits_est)
        assert abs(se - s) <= max(ref.RTOL_STDERR * abs(s), 0.5 * 10**-digits_se)


def test_fit_and_trap_tests_against_rcapture(duck):
    assert duck.fit_.deviance == pytest.approx(ref.FIT["deviance"], abs=0.005)
    assert duck.fit_.df == ref.FIT["df"]
    assert duck.fit_.aic == pytest.approx(ref.FIT["aic"], abs=0.005)
    assert len(duck.trap_tests_) == len(ref.TRAP)
    for fit, (name, dev, df, aic) in zip(duck.trap_tests_, ref.TRAP, strict=True):
        assert fit.name == name
        assert fit.deviance == pytest.approx(dev, abs=0.0005)
        assert fit.df == df
        assert fit.aic == pytest.approx(aic, abs=0.0005)
    assert duck.n_captured_ == ref.N_CAPTURED


def test_demographic_parameters_against_rcapture(duck):
    per = duck.periods_
    t = len(per)
    check_series(per["capture_prob"], per["capture_prob_se"], ref.CAPTURE, 4, 4)
    check_series(per["survival"][: t - 1], per["survival_se"][: t - 1], ref.SURVIVAL, 4, 4)
    check_series(per["abundance"], per["abundance_se"], ref.ABUNDANCE, 1, 1)
    check_series(per["arrivals"][: t - 1], per["arrivals_se"][: t - 1], ref.ARRIVALS, 1, 1)
    # abundance_ is the total ever present (Rcapture's N)
    assert duck.abundance_ == pytest.approx(ref.TOTAL[0], abs=0.5)
    assert duck.stderr_ == pytest.approx(ref.TOTAL[1], abs=0.5)


def test_json_structure_has_nulls_where_rcapture_prints_dashes(duck):
    d = duck.to_dict()
    assert [p["period"] for p in d["periods"]] == [1, 2, 3, 4, 5, 6]
    assert d["periods"][0]["capture_prob"] is None and d["periods"][5]["abundance_se"] is None
    assert d["intervals"][0]["arrivals"] is None and d["intervals"][4]["survival"] is None
    assert d["intervals"][1]["from"] == 2 and d["intervals"][1]["to"] == 3
    assert d["df"] == 49 and isinstance(d["total"]["estimate"], float)


def test_half_life_from_geometric_mean_survival(duck):
    hl = duck.half_life()
    phi = duck.periods_["survival"].to_numpy()[:4]
    phi_bar = np.exp(np.mean(np.log(phi)))
    assert hl["phi_bar"] == pytest.approx(phi_bar)
    assert hl["estimate"] == pytest.approx(np.log(0.5) / np.log(phi_bar))
    assert hl["low"] < hl["estimate"] < hl["high"]


def test_a_total_below_the_people_caught_is_not_given(tmp_path):
    # three periods, everyone caught in the last: the formula for the total ever present
    # subtracts a term the data leave undetermined and gives 4 for 6 people seen
    f = tmp_path / "t.csv"
    f.write_text("a,b,c\n1,0,1\n0,1,1\n1,1,1\n0,0,1\n0,0,1\n1,0,1\n")
    m = OpenPopulationModel().fit(read_histories(f))
    assert m.n_captured_ == 6 and np.isnan(m.abundance_)
    assert m.to_dict()["total"] == {"estimate": None, "stderr": None}
    assert m.confidence_interval_[0] == 6       # at least the people seen, no more said
    from tests.cli_runner import run_cli

    r = run_cli("estimate", "open", f)
    assert r.returncode == 0 and r.stderr == ""   # no numpy warnings either
    assert "not determined by these data" in r.stdout


def test_everyone_caught_every_time_gives_the_limit_without_numpy_warnings(tmp_path):
    # everyone caught every time: the capture chances run to 1 and the terms of the people
    # never caught to 0/0, which printed numpy's warnings (and the fit was refused, where
    # Rcapture's openp gives 20 in each period). The limit: 20 present throughout, and
    # nothing uncertain about it
    import warnings

    f = tmp_path / "t.csv"
    f.write_text("a,b,c,d\n" + "1,1,1,1\n" * 20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = OpenPopulationModel().fit(read_histories(f))
    per = m.periods_
    assert per.loc[2:3, "abundance"].tolist() == pytest.approx([20, 20], abs=1e-6)
    assert per.loc[2:3, "capture_prob"].tolist() == pytest.approx([1, 1], abs=1e-9)
    assert per.loc[2:3, "abundance_se"].max() < 1e-3
    assert m.abundance_ == pytest.approx(20, abs=1e-6) and m.stderr_ < 1e-3
    assert m.flat_directions_ >= 1
