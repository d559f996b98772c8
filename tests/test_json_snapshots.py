"""Snapshots of the three ``crowdcensus estimate`` JSON outputs, key by key.

Each file of ``tests/snapshots/`` was produced once from the code, by the command in
``SNAPSHOTS``, and checked by hand against the R reference figures that exist for it --
checks that ``test_snapshot_*_matches_R`` below repeat, so that a snapshot is never just
our own output:

- ``estimate_closed_hare.json``: every model against Rcapture's ``closedp.t(hare)``
  (``capture/data/expected_closedp.tsv``), the profile intervals against
  ``closedpCI.t`` (``expected_profile_ci.tsv``), the bias-corrected rows against
  ``closedp.bc`` (``expected_closedpbc_hare.tsv``), the closed forms against their
  formulas on hare's ``f1 = 25``, ``f2 = 22``;
- ``estimate_mse_korea.json``: MultipleSystemsEstimation's
  ``estimatepopulation(Korea, method = "stepwise")`` (``mse/reference.py``);
- ``estimate_open_duck.json``: Rcapture's ``openp(duck, dfreq = TRUE)``
  (``openpop/reference.py``).

The comparison: every key of the snapshot must be in the output (the interface is
extended, never renamed; new keys are allowed), numbers within a relative 1e-6,
``null`` where the snapshot has ``null``, strings and integers equal.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from crowdcensus.cli import main

ROOT = Path(__file__).resolve().parent
SNAP = ROOT / "snapshots"
HARE = str(ROOT.parent / "src" / "crowdcensus" / "datasets" / "hare.csv")
SNAPSHOTS = {
    "estimate_closed_hare.json": ["estimate", "closed", HARE, "--ci", "profile",
                                  "--bias-corrected", "--format", "json"],
    "estimate_mse_korea.json": ["estimate", "mse", str(ROOT / "mse" / "data" / "korea.csv"),
                                "--method", "stepwise", "--format", "json"],
    "estimate_open_duck.json": ["estimate", "open", str(ROOT / "openpop" / "data" / "duck.csv"),
                                "--format", "json"],
}


def _output(capsys, args: list[str]) -> dict:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 0
    return json.loads(capsys.readouterr().out)


def _snapshot(name: str) -> dict:
    return json.loads((SNAP / name).read_text(encoding="utf-8"))


def compare(expected, actual, path: str = "$") -> list[str]:
    """Differences between a snapshot and an output (empty list: they agree)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object"]
        out = []
        for key, value in expected.items():
            if key not in actual:
                out.append(f"{path}.{key}: missing")
            else:
                out += compare(value, actual[key], f"{path}.{key}")
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected a list of {len(expected)}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual))
                for d in compare(e, a, f"{path}[{i}]")]
    if isinstance(expected, float) and not isinstance(actual, bool):
        ok = isinstance(actual, int | float) and math.isclose(expected, actual, rel_tol=1e-6,
                                                              abs_tol=1e-9)
        return [] if ok else [f"{path}: {actual!r} != {expected!r}"]
    return [] if expected == actual and type(expected) is type(actual) else [
        f"{path}: {actual!r} != {expected!r}"]


@pytest.mark.parametrize("name", sorted(SNAPSHOTS))
def test_output_matches_snapshot(capsys, name):
    diffs = compare(_snapshot(name), _output(capsys, SNAPSHOTS[name]))
    assert not diffs, "\n".join(diffs[:20])


def test_compare_catches_changes():
    snap = {"a": 1.0, "b": [{"c": None, "d": "x"}], "n": 3}
    assert compare(snap, {"a": 1.0 + 1e-9, "b": [{"c": None, "d": "x"}], "n": 3, "new": 1}) == []
    assert compare(snap, {"a": 1.001, "b": [{"c": None, "d": "x"}], "n": 3}) != []
    assert compare(snap, {"a": 1.0, "b": [{"c": 0.0, "d": "x"}], "n": 3}) != []
    assert compare(snap, {"a": 1.0, "b": [], "n": 3}) != []
    assert compare(snap, {"a": 1.0, "b": [{"c": None, "d": "x"}]}) == ["$.n: missing"]


def test_snapshot_closed_matches_R():
    from tests.capture.reference import rcapture

    snap = _snapshot("estimate_closed_hare.json")
    assert snap["n_captured"] == 68
    closedp = rcapture.closedp().query("dataset == 'hare'").set_index("model")
    models = {m["model"]: m for m in snap["models"]}
    assert list(models) == list(closedp.index)
    for name, r in closedp.iterrows():
        m = models[name]
        assert m["abundance"] == pytest.approx(r.abundance, rel=1e-3)
        assert m["stderr"] == pytest.approx(r.stderr, rel=1e-3)
        assert m["deviance"] == pytest.approx(r.deviance, abs=0.01)
        assert (m["df"], m["aic"]) == (r.df, pytest.approx(r.AIC, abs=0.01))
        assert m["bic"] == pytest.approx(r.BIC, abs=0.01)
    for r in rcapture.profile_ci().itertuples():
        m = models[r.model]
        assert (m["ci_abundance"], m["ci_low"], m["ci_high"]) == pytest.approx(
            (r.ci_abundance, r.ci_low, r.ci_high), rel=5e-3)
    bc = {b["model"]: b for b in snap["bias_corrected"]}
    for r in rcapture.closedpbc_hare().itertuples():
        assert bc[r.model]["abundance"] == pytest.approx(r.abundance, rel=1e-6)
        assert bc[r.model]["stderr"] == pytest.approx(r.stderr, rel=5e-4)
    chao, zelt = snap["closed_forms"]
    f1, f2, n = 25, 22, 68
    assert chao["abundance"] == pytest.approx(n + f1**2 / (2 * f2), rel=1e-12)
    assert zelt["abundance"] == pytest.approx(n / (1 - math.exp(-2 * f2 / f1)), rel=1e-12)
    assert chao["level"] == 0.95 and chao["ci_low"] < chao["abundance"] < chao["ci_high"]


def test_snapshot_mse_matches_R():
    from tests.mse.reference import EXPECTED, RTOL

    snap = _snapshot("estimate_mse_korea.json")
    popest, model = EXPECTED[("korea", "stepwise")]
    assert snap["popest"] == pytest.approx(popest, rel=RTOL)
    assert snap["model"] == model
    assert snap["n_captured"] == snap["n_observed"] == 123  # sum of Korea's counts


def test_snapshot_open_matches_R():
    from tests.openpop import reference as ref

    snap = _snapshot("estimate_open_duck.json")
    assert snap["n_captured"] == ref.N_CAPTURED
    assert (snap["deviance"], snap["df"], snap["aic"]) == (
        pytest.approx(ref.FIT["deviance"], abs=0.01), ref.FIT["df"], pytest.approx(ref.FIT["aic"],
                                                                                abs=0.01))
    for period, expected in zip(snap["periods"], ref.ABUNDANCE, strict=True):
        if expected is None:
            assert period["abundance"] is None
        else:
            assert period["abundance"] == pytest.approx(expected[0], abs=0.05)
            assert period["abundance_se"] == pytest.approx(expected[1], rel=ref.RTOL_STDERR)
    assert snap["total"]["estimate"] == pytest.approx(ref.TOTAL[0], abs=0.5)
