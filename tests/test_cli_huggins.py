"""``crowdcensus estimate closed FILE --covariates ...``: Huggins' models from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.capture.reference import vgam
from tests.cli_runner import run_cli

DEERMICE = vgam.dataset("deermice")
GROUPS = vgam.dataset("huggins_groups")
EXPECTED = vgam.expected_huggins()


def _json(*args):
    res = run_cli("estimate", "closed", *args, "--format", "json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_json_has_the_closed_shape_and_vgam_figures():
    doc = _json(DEERMICE, "--covariates", "sex,weight")
    assert set(doc) == {"schema_version", "n_captured", "models"}
    assert doc["n_captured"] == 38
    ref = EXPECTED[(EXPECTED.data == "deermice") & (EXPECTED.covariates == "sex,weight")]
    assert [m["model"] for m in doc["models"]] == ["M0", "Mt", "Mb"]
    for m, r in zip(doc["models"], ref.itertuples(index=False)):
        assert m["model"] == r.model
        assert {"abundance", "stderr", "ci_low", "ci_high", "loglik", "aic", "covariates",
                "status", "parameters", "coefficients"} <= set(m)
        assert m["status"] == "ok"
        assert m["covariates"] == ["sex", "weight"]
        assert m["abundance"] == pytest.approx(float(r.abundance), rel=5e-3)
        assert m["stderr"] == pytest.approx(float(r.stderr), rel=1e-2)
        assert m["aic"] == pytest.approx(float(r.aic), abs=0.05)
        assert m["loglik"] == pytest.approx(float(r.loglik), abs=0.025)
        assert 38 <= m["ci_low"] < m["abundance"] < m["ci_high"]


def test_count_column_categorical_covariate_and_one_model():
    doc = _json(GROUPS, "--covariates", "group,x", "--model", "mb")
    (m,) = doc["models"]
    ref = EXPECTED[(EXPECTED.data == "huggins_groups") & (EXPECTED.model == "Mb")
                   & (EXPECTED.covariates == "group,x")].iloc[0]
    assert doc["n_captured"] == 349
    assert m["model"] == "Mb"
    assert m["abundance"] == pytest.approx(float(ref.abundance), rel=5e-3)
    assert set(m["coefficients"]) == {"(Intercept)", "recapture", "group[b]", "group[c]", "x"}


def test_level_changes_the_interval():
    narrow = _json(DEERMICE, "--covariates", "sex,weight", "--model", "M0", "--level", "0.8")
    wide = _json(DEERMICE, "--covariates", "sex,weight", "--model", "M0")
    (a,), (b,) = narrow["models"], wide["models"]
    assert a["abundance"] == b["abundance"]
    assert b["ci_low"] < a["ci_low"] < a["abundance"] < a["ci_high"] < b["ci_high"]


def test_text_table_coefficients_and_plot(tmp_path):
    png = tmp_path / "pstar.png"
    res = run_cli("estimate", "closed", DEERMICE, "--covariates", "sex,weight", "--plot", png)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[1] == "Number of captured units: 38 (6 occasions)"
    rows = {ln.split()[0]: ln.split() for ln in lines[4:7]}
    assert rows["Mb"][1] == "46.1" and rows["Mb"][2] == "6.5" and rows["Mb"][-1] == "ok"
    assert rows["M0"][1] == "39.1" and rows["Mt"][1] == "39.0"
    assert "95% CI" in lines[3]
    assert any(ln.startswith("recapture") and "1.2951" in ln for ln in lines)
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5000


def test_failed_fit_shows_no_number(tmp_path):
    """Nobody recaptured: M0 and Mt are unbounded -> null in JSON, a dash in text."""
    rng = np.random.default_rng(0)
    Y = np.eye(4, dtype=int)[rng.integers(0, 4, 25)]
    x = rng.normal(size=25)
    f = tmp_path / "once.csv"
    f.write_text("c1,c2,c3,c4,x\n" + "".join(
        ",".join(map(str, r)) + f",{v:.3f}\n" for r, v in zip(Y, x)))
    doc = _json(f, "--covariates", "x")
    m0 = doc["models"][0]
    assert m0["status"].startswith("unbounded")
    assert m0["abundance"] is None and m0["stderr"] is None and m0["ci_high"] is None
    res = run_cli("estimate", "closed", f, "--covariates", "x")
    row = next(ln for ln in res.stdout.splitlines() if ln.startswith("M0 "))
    assert row.split()[1:4] == ["—", "—", "—"]
    assert "unbounded" in row


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        ("c1,c2,x\n1,0,1\n1,1,2\n", ["--covariates", "y"], "missing covariate column 'y'"),
        ("c1,c2,x\n1,0,1\n1,1,\n0,1,3\n1,1,\n", ["--covariates", "x"],
         "covariate 'x' is missing on rows 2, 4"),
        ("c1,c2,when\n1,0,2024-01-02\n1,1,2024-02-03\n0,1,2024-03-04\n",
         ["--covariates", "when"], "neither numeric nor categorical"),
        ("c1,c2,x,age\n1,0,1,30\n1,1,2,40\n", ["--covariates", "x"],
         "column 'age' has the value 30 at row 1"),
        ("c1,c2,x\n1,0,1\n1,1,1\n", ["--covariates", "x"], "covariate 'x' is constant"),
        ("c1,c2,x\n1,0,1\n1,1,2\n", ["--covariates", "x", "--model", "Mh Chao"],
         "must be M0, Mt or Mb"),
        ("c1,c2,x\n1,0,1\n1,1,2\n", ["--covariates", "x", "--ci", "profile"],
         "cannot be combined with --ci"),
        ("c1,c2,x\n1,0,1\n1,1,2\n", ["--covariates", "x", "--nbcap"],
         "cannot be combined with --nbcap"),
        ("c1,c2,x\n1,0,1\n1,1,2\n", ["--covariates", "x", "--level", "1.5"], "--level"),
        ("c1,c2,x\n1,0,1\n1,1,2\n", ["--covariates", "x,"], "empty name"),
        ("c1,c2,x\n1,0,1\n1,1,2\n", ["--covariates", "x", "--freq", "x"],
         "both the count and a covariate"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, content, args, needle):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    res = run_cli("estimate", "closed", p, *args)
    assert res.returncode == 2
    assert needle in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("error: ")
