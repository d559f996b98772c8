"""The ``crowdcensus estimate mse`` command."""

import json
from pathlib import Path

import pytest

from tests.cli_runner import run_cli

from .reference import EXPECTED, RTOL

DATA = Path(__file__).parent / "data"


def run(*args):
    """``crowdcensus estimate mse ARGS...`` in-process (exit code, stdout, stderr)."""
    return run_cli("estimate", "mse", *args)


def test_json_stepwise_with_bootstrap_and_plot(tmp_path):
    png = tmp_path / "ranking.png"
    r = run(DATA / "korea.csv", "--method", "stepwise", "--bootstrap", "40", "--seed", "4",
            "--workers", "1", "--format", "json", "--plot", png)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    popest, model = EXPECTED[("korea", "stepwise")]
    assert out["model"] == model
    assert out["popest"] == pytest.approx(popest, rel=RTOL)
    assert set(out["ci"]) == {"0.025", "0.975"}
    assert out["ci"]["0.025"] < out["ci"]["0.975"]
    assert png.stat().st_size > 1000


def test_level_sets_the_bootstrap_interval_ends():
    r = run(DATA / "korea.csv", "--method", "fixed", "--model", "[12,3]", "--bootstrap", "60",
            "--seed", "2", "--workers", "1", "--level", "0.9", "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out["ci"]) == {"0.05", "0.95"} and out["level"] == 0.9
    wide = json.loads(run(DATA / "korea.csv", "--method", "fixed", "--model", "[12,3]",
                          "--bootstrap", "60", "--seed", "2", "--workers", "1", "--level",
                          "0.99", "--format", "json").stdout)["ci"]
    assert wide["0.005"] <= out["ci"]["0.05"] < out["ci"]["0.95"] <= wide["0.995"]


def test_fixed_model_text_output():
    r = run(DATA / "western.csv", "--method", "fixed", "--model", "[15,2,3,4]")
    assert r.returncode == 0, r.stderr
    assert "[15,2,3,4]" in r.stdout and "2483.4" in r.stdout


def test_not_identifiable_model_exits_with_one_line_and_no_number(tmp_path):
    f = tmp_path / "sparse.csv"
    f.write_text("A,B,C,n\n1,0,0,80\n0,1,0,50\n0,0,1,70\n1,0,1,20\n0,1,1,25\n")
    r = run(f, "--method", "fixed", "--model", "[12,13,23]", "--format", "json")
    assert r.returncode != 0
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "not identifiable" in lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "fixed"], "needs a model"),
        (["--method", "fixed", "--model", "[1x]"], "notation"),
        (["--method", "magic"], "--method"),
        (["--bootstrap", "-3"], "--bootstrap"),
        # one replicate gave an interval of width 0 that left out the estimate
        (["--bootstrap", "1"], "--bootstrap needs at least 10 replicates"),
    ],
)
def test_bad_options_give_one_line(args, message):
    r = run(DATA / "korea.csv", *args)
    assert r.returncode != 0
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
