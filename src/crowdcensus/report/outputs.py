"""Machine-readable outputs: every figure of the report as JSON and CSV.

No worker identifier (not even the pseudonymous hash) is ever written.
"""

from __future__ import annotations

import json
import math
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from crowdcensus.methods.montecarlo import Interval
from crowdcensus.synthesis.results import Results
from crowdcensus.tiers import BANDS, TIERS


def package_version() -> str:
    try:
        return version("crowdcensus")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _iv(iv: Interval) -> dict[str, float]:
    return {"estimate": iv.estimate, "low": iv.low, "high": iv.high}


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def tiers_frame(results: Results) -> pd.DataFrame:
    rows = [{"kind": "nested", "tier": t, **_iv(results.combined[t])}
            for t in TIERS if t in results.combined]
    rows += [{"kind": "disjoint", "tier": b, **_iv(results.disjoint[b])}
             for b in BANDS if b in results.disjoint]
    return pd.DataFrame(rows, columns=["kind", "tier", "estimate", "low", "high"])


def methods_frame(results: Results) -> pd.DataFrame:
    rows = []
    for t in TIERS:
        for m, tiers in results.methods.items():
            if t in tiers:
                rows.append({"tier": t, "method": m, **_iv(tiers[t]),
                             "weight": results.weights.get(t, {}).get(m, 0.0)})
        if t in results.baseline:
            rows.append({"tier": t, "method": "inverse_variance", **_iv(results.baseline[t]),
                         "weight": float("nan")})
        if t in results.combined:
            rows.append({"tier": t, "method": "combined", **_iv(results.combined[t]),
                         "weight": float("nan")})
    return pd.DataFrame(rows, columns=["tier", "method", "estimate", "low", "high", "weight"])


def assumptions_frame(results: Results) -> pd.DataFrame:
    return pd.DataFrame(
        [{"path": p.path, "label": p.label, "value": p.value, "low": p.low, "high": p.high,
          "distribution": p.distribution, "status": p.status, "source": p.source,
          "citation": results.study.source_citation(p.source), "note": p.note}
         for p in results.parameters],
        columns=["path", "label", "value", "low", "high", "distribution", "status", "source",
                 "citation", "note"])


def _joint_dict(results: Results) -> dict[str, Any] | None:
    j = results.joint
    if j is None:
        return None
    diag = {k: v for k, v in j.diagnostics.items() if k not in ("r_hat", "ess")}
    return {"inference": j.inference, "converged": j.converged, "problems": j.problems,
            "diagnostics": diag,
            "biases": j.biases.to_dict(orient="records"),
            "predictive_checks": j.checks.to_dict(orient="records"),
            "prior_to_posterior": j.shifts.to_dict(orient="records"),
            "prior_sensitivity": j.prior_sensitivity.to_dict(orient="records"),
            "take_up_readings": j.readings.to_dict(orient="records"),
            # each tier's interval bounds' Monte Carlo standard errors
            "bound_errors": {t: {"low": lo, "high": hi}
                             for t, (lo, hi) in j.bound_errors.items()}}


def results_dict(results: Results) -> dict[str, Any]:
    s = results.study
    out: dict[str, Any] = {
        "crowdcensus_version": package_version(),
        "study": {"title": s.study.title, "country": s.study.country,
                  "reference_period": s.study.reference_period,
                  "simulated": s.study.simulated, "description": s.study.description},
        "settings": {"seed": results.seed, "draws": results.draws, "level": results.level},
        "tiers": {"nested": {t: _iv(results.combined[t]) for t in TIERS
                             if t in results.combined},
                  "disjoint": {b: _iv(results.disjoint[b]) for b in BANDS
                               if b in results.disjoint}},
        "methods": {m: {t: {**_iv(iv), "weight": results.weights.get(t, {}).get(m, 0.0)}
                        for t, iv in tiers.items()} for m, tiers in results.methods.items()},
        "baseline": {"method": "inverse_variance",
                     "nested": {t: _iv(iv) for t, iv in results.baseline.items()},
                     "disjoint": {b: _iv(iv) for b, iv in results.baseline_disjoint.items()},
                     "weights": results.weights},
        "joint": _joint_dict(results),
        "intermediates": {k: _iv(v) for k, v in results.intermediates.items()},
        "assumptions": assumptions_frame(results).to_dict(orient="records"),
        "sensitivity": results.sensitivity.to_dict(orient="records"),
        "experiment": None,
        "warnings": list(results.warnings),
    }
    if results.capture is not None:
        cap = results.capture
        lo, hi = cap.interval(results.level)
        out["experiment"] = {
            "n_respondents": results.responses.n_respondents if results.responses else None,
            "waves": list(results.responses.histories.occasions) if results.responses else None,
            "capture": {"n_captured": cap.n_captured, "estimate": cap.estimate,
                        "stderr": cap.stderr, "low": lo, "high": hi,
                        "selected_by_aic": cap.selected,
                        "models": cap.table.to_dict(orient="records")},
            "shares": (results.shares.to_dict(orient="records")
                       if results.shares is not None else None),
        }
    return _clean(out)


def write_outputs(results: Results, out: Path) -> list[Path]:
    """Write results.json and one CSV per table into ``out``; return the paths."""
    written = []
    path = out / "results.json"
    path.write_text(json.dumps(results_dict(results), indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    written.append(path)
    tables = {
        "tiers.csv": tiers_frame(results),
        "methods.csv": methods_frame(results),
        "sensitivity.csv": results.sensitivity,
        "assumptions.csv": assumptions_frame(results),
        "draws.csv": results.draws_frame,
    }
    if results.capture is not None:
        tables["capture_models.csv"] = results.capture.table
    if results.joint is not None:
        tables["joint_biases.csv"] = results.joint.biases
        tables["joint_checks.csv"] = results.joint.checks
        tables["joint_assumptions.csv"] = results.joint.shifts
        tables["joint_prior_sensitivity.csv"] = results.joint.prior_sensitivity
        if not results.joint.readings.empty:
            tables["joint_take_up_readings.csv"] = results.joint.readings
        tables["posterior.csv"] = pd.DataFrame(
            {k.replace("band:", "band."): v for k, v in results.joint.tier_draws.items()})
    if results.shares is not None:
        tables["shares.csv"] = results.shares
    for name, frame in tables.items():
        p = out / name
        frame.to_csv(p, index=False, float_format="%.10g")
        written.append(p)
    return written
