"""Parity with Rcapture's ``openp`` on generated Jolly-Seber tables.

The tables are in ``data/generated/`` (made by ``rcapture_scripts/generate_tables.py``, which
says how); Rcapture 1.4-4 under R 4.2.2 gave ``data/expected_openp_generated.tsv``::

    Rscript tests/openpop/rcapture_scripts/openp.R tests/openpop/data/generated \\
        tests/openpop/data/expected_openp_generated.tsv
        # per table: openp(X, dfreq = TRUE)

Two tables reach a bound: ``js08_I8_N300`` catches everyone present in period 2, and
``zz_p3zero`` nobody in period 3, so a capture chance runs to 1 or 0 and the log-linear
coefficient behind it towards infinity. R's ``glm`` stops on its way (the chance at
1 - 7e-8, or 1e-10) and reports the standard errors of that point; this fit goes on to
the limit, where the chance is 1 or 0 with no error and an abundance caught whole is
known exactly. Those figures are compared within 1e-3; everything else within the
parity targets of the duck data.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdcensus.capture.open.model import OpenPopulationModel
from crowdcensus.capture.readers import read_histories

from . import reference as ref

DATA = Path(__file__).parent / "data"
EXPECTED = pd.read_csv(DATA / "expected_openp_generated.tsv", sep="\t",
                       skipinitialspace=True)
TABLES = sorted(EXPECTED["dataset"].unique())
#: (quantity in the R table, column of periods_ or the total, its standard error)
SERIES = {"capture_prob": ("capture_prob", "capture_prob_se"),
          "abundance": ("abundance", "abundance_se"),
          "survival": ("survival", "survival_se"),
          "arrivals": ("arrivals", "arrivals_se")}


def test_every_table_is_compared():
    assert len(TABLES) == 11
    assert {p.stem for p in (DATA / "generated").glob("*.csv")} == set(TABLES)


@pytest.mark.parametrize("name", TABLES)
def test_openp_generated_against_rcapture(name):
    m = OpenPopulationModel().fit(read_histories(DATA / "generated" / f"{name}.csv"))
    r = EXPECTED[EXPECTED["dataset"] == name]

    def one(quantity, index=0):
        row = r[(r["quantity"] == quantity) & (r["index"] == index)]
        assert len(row) == 1
        return float(row["estimate"].iat[0]), float(row["stderr"].iat[0])

    assert m.fit_.deviance == pytest.approx(one("deviance")[0], rel=1e-6, abs=1e-6)
    assert m.fit_.df == one("df")[0]
    assert m.fit_.aic == pytest.approx(one("AIC")[0], rel=1e-6)
    trap = r[r["quantity"] == "trap_deviance"]
    assert len(m.trap_tests_) == len(trap)
    for k, fit in enumerate(m.trap_tests_, start=1):
        assert fit.deviance == pytest.approx(one("trap_deviance", k)[0], rel=1e-6, abs=1e-6)
        assert fit.df == one("trap_df", k)[0]

    at_bound = set()   # periods whose capture chance R leaves within 1e-6 of 0 or 1
    for quantity, (col, se_col) in SERIES.items():
        rows = r[r["quantity"] == quantity].sort_values("index")
        assert len(rows) == len(m.periods_) - (quantity in ("survival", "arrivals"))
        for i, e, s in zip(rows["index"], rows["estimate"], rows["stderr"], strict=True):
            est, se = m.periods_.loc[i, col], m.periods_.loc[i, se_col]
            if np.isnan(e):
                assert np.isnan(est) and np.isnan(se), (quantity, i)
                continue
            if quantity == "capture_prob" and min(e, 1 - e) < 1e-6:
                at_bound.add(i)
            bound = quantity == "capture_prob" and i in at_bound or (
                quantity == "abundance" and i in at_bound and s < 0.01)
            assert est == pytest.approx(e, rel=ref.RTOL_ESTIMATE, abs=1e-6), (quantity, i)
            if bound:
                assert se < 1e-3 and s < 1e-2, (quantity, i)
            else:
                assert se == pytest.approx(s, rel=ref.RTOL_STDERR, abs=1e-6), (quantity, i)
    total, total_se = one("total", 1)
    assert m.abundance_ == pytest.approx(total, rel=ref.RTOL_ESTIMATE)
    assert m.stderr_ == pytest.approx(total_se, rel=ref.RTOL_STDERR)
    assert (m.flat_directions_ > 0) == bool(at_bound)
