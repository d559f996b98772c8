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
