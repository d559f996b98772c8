"""The ``crowdcensus estimate closed`` command: outputs, options and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from crowdcensus.cli import main
from tests.capture.reference import rcapture

HARE = str(rcapture.dataset("hare"))


def run(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_json_structure_is_the_documented_one(capsys):
    """DESIGN.md's keys, exactly, for every model; the closed forms as an extra key."""
    code, out, _ = run(capsys, "estimate", "closed", HARE, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"schema_version", "n_captured", "models", "closed_forms"}
    assert doc["schema_version"] == 1
    assert doc["n_captured"] == 68
    keys = {"model", "abundance", "stderr", "deviance", "df", "aic", "bic", "status"}
    assert all(set(m) == keys for m in doc["models"])
    assert [m["model"] for m in doc["models"]][:2] == ["M0", "Mt"]
    assert isinstance(doc["models"][0]["df"], int)


def test_model_and_profile_ci(capsys):
    code, out, _ = run(capsys, "estimate", "closed", HARE, "--model", "mh chao",
                       "--ci", "profile", "--format", "json")
    assert code == 0
    (m,) = json.loads(out)["models"]
    assert m["model"] == "Mh Chao (LB)"
    assert m["ci_low"] == pytest.approx(70.5721, rel=5e-3)
    assert m["ci_low"] < m["ci_abundance"] < m["ci_high"]


def test_interactions_add_a_term(capsys):
    _, out, _ = run(capsys, "estimate", "closed", HARE, "--model", "Mt", "--format", "json")
    base = json.loads(out)["models"][0]
    _, out, _ = run(capsys, "estimate", "closed", HARE, "--model", "Mt",
                    "--interactions", "c1:c2", "--format", "json")
    inter = json.loads(out)["models"][0]
    assert inter["model"] == "Mt"
    assert inter["df"] == base["df"] - 1
    assert inter["deviance"] <= base["deviance"] + 1e-9


def test_interactions_on_a_behavioural_model_asked_for_by_name_are_an_error(capsys):
    # it printed an empty table and exited 0; over all models Mb is listed as skipped
    code, out, err = run(capsys, "estimate", "closed", HARE, "--model", "Mb",
                         "--interactions", "c1:c2", "--format", "json")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "error: interactions cannot be added to behavioural models (Mb); leave out "
        "--interactions or choose another model"]
    code, out, _ = run(capsys, "estimate", "closed", HARE, "--interactions", "c1:c2",
                       "--format", "json")
    models = [m["model"] for m in json.loads(out)["models"]]
    assert code == 0 and "Mt" in models and "Mb" not in models


def test_text_table_and_plot(capsys, tmp_path):
    png = tmp_path / "fit.png"
    code, out, _ = run(capsys, "estimate", "closed", HARE, "--plot", str(png), "--descriptive")
    assert code == 0
    assert "Mth Poisson2" in out and "Chao lower bound" in out and "fi" in out
    assert png.stat().st_size > 5000 and png.read_bytes()[:4] == b"\x89PNG"


def test_nbcap_and_events(capsys, tmp_path):
    f = tmp_path / "f.csv"
    f.write_text("nbcap,freq\n1,25\n2,22\n3,13\n4,5\n5,1\n6,2\n")
    _, out, _ = run(capsys, "estimate", "closed", str(f), "--nbcap", "--t", "6",
                    "--format", "json")
    models = {m["model"]: m for m in json.loads(out)["models"]}
    assert models["M0"]["abundance"] == pytest.approx(75.433619, rel=1e-6)
    assert "Mt" not in models
    _, out, _ = run(capsys, "estimate", "closed", str(f), "--nbcap", "--t", "inf",
                    "--format", "json")
    assert json.loads(out)["n_captured"] == 68
    ev = tmp_path / "ev.csv"
    ev.write_text("worker,wave\na,1\nb,1\na,2\nc,2\nd,2\nb,3\na,3\n")
    code, out, _ = run(capsys, "estimate", "closed", str(ev), "--events", "--format", "json")
    assert code == 0 and json.loads(out)["n_captured"] == 4


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        ("c1,c2\n1,3\n", [], "has the value 3"),
        ("c1,c2,freq\n1,1,-2\n", [], "negative"),
        ("c1\n1\n", [], "at least 2 occasions"),
        ("", [], "empty"),
        ("c1,c2\n1,1\n", ["--freq", "cnt"], "missing column 'cnt'"),
        ("c1,c2\n1,1\n", ["--model", "Mx"], "unknown model"),
        ("c1,c2\n1,1\n", ["--format", "xml"], "--format"),
        ("c1,c2\n1,1\n", ["--model", "Mh Darroch"], "not defined for these data"),
        ("nbcap,freq\n1,2\n", ["--nbcap"], "--t"),
        ("c1,c2\n1,1\n", ["--bogus"], "No such option"),
    ],
)
def test_bad_input_one_line_nonzero_exit(capsys, tmp_path, content, args, needle):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    code, out, err = run(capsys, "estimate", "closed", str(p), *args)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert "Traceback" not in err


def test_missing_file_through_the_real_executable(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "crowdcensus", "estimate", "closed",
                           str(tmp_path / "nope.csv")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path / 'nope.csv'}: no such file"


def test_demo_writes_outputs(capsys, tmp_path):
    # the demo now runs the France 2018 study (tests/pipeline covers it in detail)
    code, out, _ = run(capsys, "demo", "--out", str(tmp_path))
    assert code == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    assert round(doc["baseline"]["nested"]["occasional"]["estimate"]) == 266_126
