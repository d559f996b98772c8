"""Every estimator has one shape: fit -> self, `_` attributes only after fit, summary,
to_dict (the CLI's JSON), plot(ax) -> Axes; the package root exports them."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import crowdcensus
from crowdcensus.capture import CaptureHistories, read_histories
from crowdcensus.capture.base import PopulationEstimator
from crowdcensus.errors import NotFittedError
from tests.cli_runner import run_cli

TESTS = Path(__file__).resolve().parents[1]
HARE = TESTS / "capture" / "data" / "hare.csv"
KOREA = TESTS / "mse" / "data" / "korea.csv"
DUCK = TESTS / "openpop" / "data" / "duck.csv"

# (estimator, data file, the CLI command printing its to_dict())
CASES = [
    (lambda: crowdcensus.ClosedPopulationModel("Mh Chao (LB)"), HARE,
     ["estimate", "closed", HARE, "--model", "Mh Chao (LB)", "--format", "json"]),
    (lambda: crowdcensus.MultipleSystemsModel("stepwise"), KOREA,
     ["estimate", "mse", KOREA, "--format", "json"]),
    (lambda: crowdcensus.OpenPopulationModel(), DUCK,
     ["estimate", "open", DUCK, "--format", "json"]),
]
IDS = ["closed", "mse", "open"]


@pytest.mark.parametrize(("make", "path", "command"), CASES, ids=IDS)
def test_fitted_attributes_exist_only_after_fit(make, path, command):
    model = make()
    assert isinstance(model, PopulationEstimator)
    for name in ("abundance_", "stderr_", "confidence_interval_", "n_captured_"):
        assert not hasattr(model, name)
    with pytest.raises(NotFittedError):
        model.summary  # noqa: B018
    with pytest.raises(NotFittedError):
        model.to_dict()
    assert model.fit(read_histories(path)) is model
    low, high = model.confidence_interval_
    assert model.n_captured_ <= low < model.abundance_ < high
    assert model.stderr_ > 0


@pytest.mark.parametrize(("make", "path", "command"), CASES, ids=IDS)
def test_to_dict_is_what_the_command_prints(make, path, command):
    model = make().fit(read_histories(path))
    result = run_cli(*command)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == json.loads(json.dumps(model.to_dict()))
    assert printed["schema_version"] == 1


@pytest.mark.parametrize(("make", "path", "command"), CASES, ids=IDS)
def test_summary_is_one_row_with_the_interval_at_level(make, path, command):
    model = make()
    model.level = 0.8
    model.fit(read_histories(path))
    s = model.summary
    assert isinstance(s, pd.DataFrame) and len(s) == 1
    row = s.iloc[0]
    assert row["abundance"] == model.abundance_ and row["stderr"] == model.stderr_
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(model.confidence_interval_)
    assert s.attrs["level"] == 0.8
    wide = make().fit(read_histories(path)).confidence_interval_
    assert wide[0] < row["ci_low"] and row["ci_high"] < wide[1]


@pytest.mark.parametrize(("make", "path", "command"), CASES, ids=IDS)
def test_plot_draws_on_the_given_axes(make, path, command):
    from matplotlib.figure import Figure

    model = make().fit(read_histories(path))
    ax = Figure().subplots()
    assert model.plot(ax) is ax
    assert ax.lines or ax.collections or ax.containers


def test_refit_forgets_the_previous_fit():
    m = crowdcensus.ClosedPopulationModel("M0", ci="profile").fit(read_histories(HARE))
    assert m.ci_abundance_ is not None
    m.ci = None
    m.fit(read_histories(HARE))
    assert m.ci_abundance_ is None
    assert m.confidence_interval_ != pytest.approx((m.n_captured_, m.n_captured_))


def test_bad_level_is_an_input_error():
    from crowdcensus.errors import InputError

    with pytest.raises(InputError, match="level"):
        crowdcensus.OpenPopulationModel(level=95).fit(read_histories(DUCK))


def test_mse_stderr_is_rcapture_mt_stderr_for_main_effects():
    """Main effects on three lists is Rcapture's Mt; its SE, from R 4.x, Rcapture 1.4-4::

        d <- data.frame(c1=c(1,0,0,1,1,0,1), c2=c(0,1,0,1,0,1,1), c3=c(0,0,1,0,1,1,1),
                        freq=c(120,95,80,30,25,20,8))
        closedp.t(d, dfreq=TRUE)$results["Mt", c("abundance", "stderr")]
        # 743.7365904  56.8149118
    """
    h = CaptureHistories.from_matrix(
        [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]],
        counts=[120, 95, 80, 30, 25, 20, 8])
    m = crowdcensus.MultipleSystemsModel("main").fit(h)
    assert m.abundance_ == pytest.approx(743.7365904, rel=1e-6)
    assert m.stderr_ == pytest.approx(56.8149118, rel=1e-5)


def test_mse_bootstrap_interval_becomes_the_confidence_interval():
    m = crowdcensus.MultipleSystemsModel("main", n_boot=200, seed=3, level=0.9, workers=1)
    m.fit(read_histories(KOREA))
    assert m.confidence_interval_ == (m.bootstrap_.ci[0.05], m.bootstrap_.ci[0.95])
    assert m.to_dict()["ci"] == {"0.05": m.bootstrap_.ci[0.05], "0.95": m.bootstrap_.ci[0.95]}
    with pytest.warns(DeprecationWarning):
        assert m.popest_ == m.abundance_


def test_open_total_is_the_abundance_and_periods_a_frame():
    m = crowdcensus.OpenPopulationModel().fit(read_histories(DUCK))
    d = m.to_dict()
    assert d["total"] == {"estimate": m.abundance_, "stderr": m.stderr_}
    assert list(m.periods_.index) == list(range(1, len(d["periods"]) + 1))
    assert math.isnan(m.periods_["survival"].iloc[-1])
    assert d["half_life"]["level"] == m.level


def test_root_exports_are_the_module_objects():
    from crowdcensus.capture.closed.model import ClosedPopulationModel
    from crowdcensus.capture.mse.model import MultipleSystemsModel
    from crowdcensus.capture.open.model import OpenPopulationModel
    from crowdcensus.pipeline import run_study
    from crowdcensus.study import load_study

    assert crowdcensus.ClosedPopulationModel is ClosedPopulationModel
    assert crowdcensus.MultipleSystemsModel is MultipleSystemsModel
    assert crowdcensus.OpenPopulationModel is OpenPopulationModel
    assert crowdcensus.read_histories is read_histories
    assert crowdcensus.run_study is run_study
    assert crowdcensus.load_study is load_study
    assert set(crowdcensus.__all__) <= set(dir(crowdcensus))
    with pytest.raises(AttributeError):
        crowdcensus.no_such_thing  # noqa: B018


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_import_crowdcensus_is_cheap():
    heavy = _python("import sys, crowdcensus; print(sorted(m for m in ('numpy', 'pandas', "
                    "'scipy', 'matplotlib') if m in sys.modules))")
    assert heavy == "[]"


def test_nothing_switches_the_matplotlib_backend():
    code = (
        "import matplotlib; matplotlib.use('svg')\n"
        "import crowdcensus.report.plots, crowdcensus.simulate.validation_report\n"
        "import crowdcensus.capture.mse.plots, crowdcensus.capture.open.plots\n"
        "from crowdcensus.capture import load_hare\n"
        "from crowdcensus import ClosedPopulationModel\n"
        "ax = ClosedPopulationModel().fit(load_hare()).plot()\n"
        "import sys\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)\n"
    )
    assert _python(code) == "svg False"
