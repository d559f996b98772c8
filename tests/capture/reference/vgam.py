"""Numbers from the R package VGAM 1.1-7 (R 4.2.2), kept with the calls that made them.

Huggins' conditional-likelihood models; ``N.hat`` and ``SE.N.hat`` are VGAM's
Horvitz--Thompson abundance and standard error (``fit@extra``), ``loglik`` and
``aic`` are ``logLik(fit)`` and ``AIC(fit)``.

``data/expected_huggins.tsv`` (copied from the project's shared reference folder)
holds its R call on each row; ``deermice.csv`` is VGAM's ``data(deermice)`` without
the ``age`` column.

``data/expected_huggins_extra.tsv`` and ``data/expected_huggins_coef.tsv`` were
written by this script (``r_call`` on each row of the first; the second holds
``coef(fit)`` and ``sqrt(diag(vcov(fit)))`` of the same fits)::

    library(VGAM)
    data(deermice)                                   # -> data/deermice_age.csv
    write.csv(deermice, "deermice_age.csv", row.names = FALSE, quote = FALSE)
    g <- read.csv("huggins_groups.csv")              # make_huggins_data.py
    expanded <- g[rep(seq_len(nrow(g)), g$freq), ]   # one row per individual
    fit <- vglm(cbind(c1, c2, c3, c4, c5) ~ group + x,
                posbernoulli.t(parallel.t = TRUE ~ group + x), data = expanded)
    c(fit@extra$N.hat, fit@extra$SE.N.hat, logLik(fit), AIC(fit))
    coef(fit); sqrt(diag(vcov(fit)))
    # ... and likewise for every row of expected_huggins_extra.tsv

VGAM's ``N.hat`` ignores prior weights (it warns that "estimate of N may be wrong
when prior weights are not all the same"), so the frequency-weighted file was
expanded to one row per individual for R; crowdcensus reads the weighted file.

Names: VGAM's ``(Intercept):j`` of Mt is crowdcensus's ``(Intercept):<occasion j>``;
in ``posbernoulli.b`` ``(Intercept):1`` is the recapture shift (``recapture``) and
``(Intercept):2`` the first-capture intercept (``(Intercept)``); a factor level
``agey`` is ``age[y]``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parent.parent / "data"


def _read(name: str) -> pd.DataFrame:
    frame = pd.read_csv(DATA / name, sep="\t", keep_default_na=False, dtype={"covariates": str})
    return frame


def expected_huggins() -> pd.DataFrame:
    """The shared table (deermice) and the extra one, in one frame."""
    shared = _read("expected_huggins.tsv").iloc[:, :7]
    extra = _read("expected_huggins_extra.tsv").iloc[:, :7]
    return pd.concat([shared, extra], ignore_index=True)


def expected_coefficients() -> pd.DataFrame:
    return _read("expected_huggins_coef.tsv")


def dataset(name: str) -> Path:
    return DATA / f"{name}.csv"


FACTORS = {"age": ["y"], "group": ["b", "c"]}


def our_name(vgam_name: str, model: str, occasions: list[str]) -> str:
    """crowdcensus's name of a VGAM coefficient."""
    m = re.fullmatch(r"\(Intercept\):(\d+)", vgam_name)
    if m:
        j = int(m.group(1))
        if model == "Mb":
            return "recapture" if j == 1 else "(Intercept)"
        return f"(Intercept):{occasions[j - 1]}"
    for factor, levels in FACTORS.items():
        for level in levels:
            if vgam_name == f"{factor}{level}":
                return f"{factor}[{level}]"
    return vgam_name
