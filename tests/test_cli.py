"""The command line as a whole: version, fast help, choices, stdin, documented exit codes."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import crowdcensus
from tests.cli_runner import run_cli

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src" / "crowdcensus"
HARE = TESTS / "capture" / "data" / "hare.csv"
KOREA = TESTS / "mse" / "data" / "korea.csv"
DUCK = TESTS / "openpop" / "data" / "duck.csv"
HEAVY = ("numpy", "pandas", "scipy", "matplotlib", "pyarrow", "fastapi", "sqlalchemy",
         "distributed", "jinja2")  # (pydantic: Typer itself converts values with it)


def crowdcensus_process(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crowdcensus", *args], input=stdin,
                          capture_output=True, timeout=300)


def test_version():
    r = run_cli("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"crowdcensus {crowdcensus.__version__}"


def test_help_imports_no_heavy_library():
    code = ("import sys\nfrom crowdcensus.cli import main\n"
            "try:\n    main(['estimate', 'closed', '--help'])\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Usage: crowdcensus estimate closed" in r.stdout
    assert r.stderr.strip() == "[]"


@pytest.mark.parametrize(("command", "shown"), [
    (["estimate", "closed"], ["<text|json>", "<profile>"]),
    (["estimate", "mse"], ["<stepwise|bic|downhill|bayesthresh|fixed|main>",
                           "<proper|improper>", "<text|json>"]),
    (["estimate", "open"], ["<text|json>"]),
    (["demo"], ["<france-2018|simulated>"]),
    (["export"], ["<responses|histories|schedule>"]),
    (["serve"], ["<critical|error|warning|info|debug>"]),
    (["validate"], ["<by_band|pooled>"]),
])
def test_help_lists_the_choices(command, shown):
    r = run_cli(*command, "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    for choice in shown:
        assert choice in text
    assert "%%" not in r.stdout


def test_a_bad_choice_is_one_line_and_exit_2():
    r = run_cli("estimate", "mse", KOREA, "--method", "lasso")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "'lasso' is not one of" in r.stderr


def test_no_private_typer_import():
    sources = "\n".join(p.read_text(encoding="utf-8") for p in SRC.rglob("*.py"))
    assert "typer._click" not in sources


@pytest.mark.parametrize("command", [
    ["estimate", "closed", "--format", "json"],
    ["estimate", "mse", "--format", "json"],
    ["estimate", "open", "--format", "json"],
], ids=["closed", "mse", "open"])
def test_dash_reads_standard_input(command):
    data = {"closed": HARE, "mse": KOREA, "open": DUCK}[command[1]]
    from_file = crowdcensus_process(*command[:2], str(data), *command[2:])
    from_stdin = crowdcensus_process(*command[:2], "-", *command[2:], stdin=data.read_bytes())
    assert from_file.returncode == from_stdin.returncode == 0, from_stdin.stderr
    assert json.loads(from_stdin.stdout) == json.loads(from_file.stdout)


def test_empty_standard_input_is_an_input_error():
    r = crowdcensus_process("estimate", "closed", "-", stdin=b"")
    assert r.returncode == 2
    assert r.stderr.decode().strip() == "error: no data: standard input is empty"


def test_a_model_that_cannot_be_fitted_exits_3():
    # the saturated model of three lists leaves no degree of freedom for the unseen cell
    r = run_cli("estimate", "mse", KOREA, "--method", "fixed", "--model", "[123]")
    assert r.returncode == 3, r.stderr
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    assert "cannot be used on these data" in r.stderr


def test_bad_input_exits_2():
    r = run_cli("estimate", "closed", TESTS / "no-such-file.csv")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "no such file" in r.stderr


def test_unexpected_failure_is_one_line_and_exit_1(monkeypatch):
    import crowdcensus.capture.readers as readers

    def broken(*_a, **_k):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(readers, "read_histories", broken)
    r = run_cli("estimate", "mse", KOREA)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1
    assert "unexpected ZeroDivisionError: division by zero" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(("command", "extra"), [
    (["serve"], "collect"),
    (["db", "upgrade", "--db", "sqlite:///x.db"], "collect"),
    (["export", "1", "--out", "x.csv"], "collect"),
])
def test_a_missing_extra_is_named_with_its_install_command(monkeypatch, command, extra):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "fastapi" else real(name, *a))
    r = run_cli(*command)
    assert r.returncode == 2
    name = " ".join(command[:2] if command[0] == "db" else command[:1])
    assert r.stderr == (f"error: crowdcensus {name} needs the {extra} extra: "
                        f"pip install 'crowdcensus[{extra}]'\n")


def test_postgres_needs_its_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "psycopg" else real(name, *a))
    r = run_cli("db", "status", "--db", "postgresql+psycopg://u@localhost/x")
    assert r.returncode == 2
    assert "needs the postgres extra: pip install 'crowdcensus[postgres]'" in r.stderr


@pytest.mark.parametrize(("args", "message"), [
    # each was a bug (exit 1) or was refused only after the whole fit
    (["run", "{study}", "--out", "{dir}/o", "--seed", str(2**63)], "--seed must lie between"),
    (["run", "{study}", "--out", "{dir}/o", "--draws", "100000000000"],
     "--draws must lie between 100 and 1,000,000"),
    (["run", "{study}", "--out", "{file}/sub"], "is a file, not a directory"),
    (["run", "{study}", "--out", "{file}"], "exists and is not a directory"),
    (["demo", "--out", "{file}"], "exists and is not a directory"),
    (["simulate", "small", "--workers", "-5", "--out", "{dir}/s"],
     "--workers must lie between 50"),
    (["simulate", "small", "--workers", "0", "--out", "{dir}/s"],
     "--workers must lie between 50"),
    (["simulate", "small", "--out", "{file}"], "exists and is not a directory"),
    (["validate", "small", "-r", "1", "--dask-scheduler", "notaurl", "--out", "{dir}/v"],
     "expected an address like tcp://HOST:8786"),
    (["validate", "small", "-r", "1", "--vary", "activity.misreport=0,,0.1", "--out",
      "{dir}/v"], "a value is empty"),
    (["validate", "small", "-r", "1", "--vary", "activity.misreport=0", "--vary",
      "activity.misreport=0.1", "--out", "{dir}/v"], "is given twice"),
])
def test_bad_options_are_refused_before_any_work(tmp_path, args, message):
    afile = tmp_path / "afile.txt"
    afile.write_text("kept\n")
    study = Path(crowdcensus.__file__).parent / "examples" / "simulated" / "study.toml"
    args = [a.format(study=study, dir=tmp_path, file=afile) for a in args]
    r = run_cli(*args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert afile.read_text() == "kept\n"
    assert not [p for p in tmp_path.iterdir() if p != afile]    # nothing was written
