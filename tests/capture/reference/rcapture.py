"""Numbers from the R package Rcapture 1.4-4 (R 4.2.2), kept with the calls that made them.

The tables are the files ``data/expected_closedp.tsv`` and ``data/expected_profile_ci.tsv``
copied from the project's shared reference folder. They were produced by::

    library(Rcapture)
    hare <- read.csv("hare.csv")
    closedp.t(hare)                                   # expected_closedp.tsv, dataset hare
    seber2 <- read.csv("seber2.csv")
    closedp.t(seber2, dfreq = TRUE)                   # expected_closedp.tsv, dataset seber2
    closedpCI.t(hare, m = "M0")                       # expected_profile_ci.tsv, M0
    closedpCI.t(hare, m = "Mt")
    closedpCI.t(hare, m = "Mh", h = "Chao")
    closedpCI.t(hare, m = "Mth", h = "Poisson", h.control = list(theta = 2))
    closedpCI.t(hare, m = "Mh", h = "Darroch")

Generated tables (``data/generated/``, made by ``generate_tables.py`` in this folder)
and Rcapture 1.4-4 under R 4.2.2, with the scripts of this folder (our own R code,
one ``Rcapture`` call per table and model, output written with ``format(digits = 10)``)::

    Rscript closedp0.R data/generated/freq expected_closedp0_generated.tsv
        # per table: closedp.0(X, dfreq = TRUE, dtype = "nbcap", t = t)
    Rscript closedpt.R data/generated/hist expected_closedpt_generated.tsv
        # per table: closedp.t(X, dfreq = TRUE)
    Rscript closedpbc.R data/generated/hist expected_closedpbc_generated_hist.tsv
        # per table and model: closedp.bc(X, dfreq = TRUE, m = m, h = h), with
        # (m, h) = M0; Mt; Mh Chao; Mh Poisson; Mh Darroch; Mh Gamma; Mth Chao;
        # Mth Poisson; Mth Darroch; Mb; Mbh (Poisson theta 2, Gamma theta 3.5 by default)
    Rscript closedpbc.R data/generated/freq expected_closedpbc_generated_freq.tsv nbcap
        # closedp.bc(X, dfreq = TRUE, dtype = "nbcap", t = t, m = m, h = h), M0 and Mh
    Rscript closedpbc.R data hare -> expected_closedpbc_hare.tsv
        # closedp.bc(hare, m = m, h = h), every model
    Rscript closedpci.R data/generated/hist expected_profile_ci_generated.tsv \
        t03_het t05_het t05_sparse t08_het t08_sparse t10_het t14_het
        # per table: closedpCI.t(X, dfreq = TRUE, m = m, h = h), (m, h) = M0; Mt;
        # Mh Chao; Mh Poisson; Mh Darroch; Mth Chao; Mth Poisson (theta 2 by default)

The ``warnings`` column keeps Rcapture's ``glm.warn`` (e.g. "glm: glm.fit: algorithm
did not converge", "glm.fit: fitted rates numerically 0 occurred"); ``closedp.bc``
never reports glm's warnings (its ``glm.warn`` reads a misspelt element), so its
``note`` column only holds errors.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parent.parent / "data"


def closedp() -> pd.DataFrame:
    return pd.read_csv(DATA / "expected_closedp.tsv", sep="\t")


def profile_ci() -> pd.DataFrame:
    return pd.read_csv(DATA / "expected_profile_ci.tsv", sep="\t")


def dataset(name: str) -> Path:
    return DATA / f"{name}.csv"


def _read(name: str) -> pd.DataFrame:
    """A TSV written by R's ``format()``: strip the padding, keep NA as NaN."""
    df = pd.read_csv(DATA / name, sep="\t", dtype=str, keep_default_na=False)
    df.columns = [c.strip() for c in df.columns]
    df = df.apply(lambda col: col.str.strip())
    for col in df.columns:
        if col in ("dataset", "model", "warnings", "note"):
            continue
        df[col] = pd.to_numeric(df[col].replace("NA", None), errors="raise")
    return df


def profile_ci_generated() -> pd.DataFrame:
    return _read("expected_profile_ci_generated.tsv")


def closedp0_generated() -> pd.DataFrame:
    return _read("expected_closedp0_generated.tsv")


def closedpt_generated() -> pd.DataFrame:
    return _read("expected_closedpt_generated.tsv")


def closedpbc_generated(kind: str) -> pd.DataFrame:
    """``kind``: ``hist`` or ``freq``."""
    return _read(f"expected_closedpbc_generated_{kind}.tsv")


def closedpbc_hare() -> pd.DataFrame:
    return _read("expected_closedpbc_hare.tsv")


def generated(kind: str, name: str) -> Path:
    """A generated table: ``kind`` is ``freq`` or ``hist``."""
    return DATA / "generated" / kind / f"{name}.csv"
