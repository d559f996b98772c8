"""Convergence diagnostics of the joint model's sampler.

A NUTS fit is accepted when the split R-hat (Gelman et al. 2013; Vehtari et
al. 2021) of every scalar parameter and derived figure is at most
:data:`MAX_RHAT`, when the effective sample size of every figure the report
prints (:data:`REPORTED`: the tiers and each method's bias) is at least
:data:`MIN_ESS`, and when at most :data:`MAX_DIVERGENT` of the transitions
diverged. A fit that
fails any of these prints no figure: the report says why instead.

References
----------
Vehtari, A., Gelman, A., Simpson, D., Carpenter, B. and Bürkner, P.-C. (2021).
Rank-normalization, folding, and localization: an improved R-hat for assessing
convergence of MCMC. *Bayesian Analysis* 16(2), 667-718.

The interval bounds' Monte Carlo error (:func:`quantile_mcse`) follows the same
paper's idea for quantiles: the share of draws below a bound is uncertain by as
much as the effective number of draws of that indicator allows.
"""

from __future__ import annotations

import numpy as np

MAX_RHAT = 1.05
MIN_ESS = 100.0
MAX_DIVERGENT = 0.01
#: The sites whose draws the report prints (their effective sample size is checked).
REPORTED = ("workers", "band_shares", "declared_bias", "audience_bias", "reachable_share",
            "misreport", "platforms_per_worker", "dormant_share", "declaration_inflation",
            "visitors_per_person", "takeup_logit", "after_answer", "arrival_share",
            "departure_share", "monthly_visitors", "declared_expected", "audience_expected",
            "random_answer_shares", "start_misdated")


def _scalars(grouped: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Split every site into scalar series of shape (chains, draws)."""
    out = {}
    for name, arr in grouped.items():
        arr = np.asarray(arr)
        if arr.ndim == 2:
            out[name] = arr
        else:
            flat = arr.reshape(arr.shape[0], arr.shape[1], -1)
            for i in range(flat.shape[2]):
                out[f"{name}[{i}]"] = flat[:, :, i]
    return out


def nuts_diagnostics(grouped: dict[str, np.ndarray], diverging: np.ndarray, chains: int
                     ) -> tuple[dict, list[str]]:
    """R-hat, ESS and divergences; returns (diagnostics, problems)."""
    from numpyro.diagnostics import effective_sample_size, split_gelman_rubin

    series = _scalars(grouped)
    rhat, ess = {}, {}
    for name, x in series.items():
        if np.ptp(x) <= 1e-9 * max(float(np.abs(x).mean()), 1e-300):
            continue  # a constant (e.g. the share reached when posted everywhere)
        rhat[name] = float(split_gelman_rubin(x)) if chains > 1 else float("nan")
        ess[name] = float(effective_sample_size(x))
    n_div = int(np.sum(diverging))
    n_total = int(np.size(diverging))
    problems = []
    bad_rhat = {k: v for k, v in rhat.items() if np.isfinite(v) and v > MAX_RHAT}
    if bad_rhat:
        worst = max(bad_rhat, key=bad_rhat.get)
        problems.append(f"R-hat above {MAX_RHAT} for {len(bad_rhat)} quantities (worst: "
                        f"{worst}, {bad_rhat[worst]:.3f}): the chains disagree")
    low_ess = {k: v for k, v in ess.items() if v < MIN_ESS
               and (k.split("[")[0] in REPORTED or k.startswith("worker_share"))}
    if low_ess:
        worst = min(low_ess, key=low_ess.get)
        problems.append(f"effective sample size below {MIN_ESS:.0f} for {len(low_ess)} "
                        f"quantities (worst: {worst}, {low_ess[worst]:.0f})")
    too_many_divergent = bool(n_total and n_div / n_total > MAX_DIVERGENT)
    if too_many_divergent:
        problems.append(f"{n_div} of {n_total} transitions diverged: the sampler could not "
                        "explore the posterior reliably")
    diag = {"r_hat": rhat, "ess": ess, "divergences": n_div, "transitions": n_total,
            "too_many_divergent": too_many_divergent, "chains": chains,
            "max_r_hat": max(rhat.values()) if rhat else float("nan"),
            "min_ess": min(ess.values()) if ess else float("nan")}
    return diag, problems


def quantile_mcse(x: np.ndarray, p: float) -> float:
    """The Monte Carlo standard error of the ``p`` quantile of the draws ``x`` (chains,
    draws; one row for independent draws).

    The share of the posterior below the draws' ``p`` quantile is itself uncertain:
    with ``s`` the effective sample size of the indicator "draw at or below the
    quantile", it spreads as a beta distribution with ``s p + 1`` and ``s (1 - p) + 1``.
    Half the distance between the draws' quantiles at that distribution's 15.9% and
    84.1% points (a standard deviation either side, were it normal) is the error."""
    from numpyro.diagnostics import effective_sample_size
    from scipy.stats import beta

    x = np.asarray(x, dtype=float)
    x = x.reshape(1, -1) if x.ndim == 1 else x
    if x.shape[1] < 4:
        return float("nan")
    flat = x.ravel()
    below = (x <= np.quantile(flat, p)).astype(float)
    if np.ptp(below) == 0:
        return float("nan")
    size = min(max(float(effective_sample_size(below)), 1.0), float(flat.size))
    lo, hi = beta.ppf([0.158655, 0.841345], size * p + 1, size * (1 - p) + 1)
    a, b = np.quantile(flat, [lo, hi])
    return float((b - a) / 2)
