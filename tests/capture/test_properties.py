"""Property tests: the estimates depend on the histories, not on how they are written."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdcensus.capture import CaptureHistories
from crowdcensus.capture.closed.model import fit_closed_models

MODELS = ["M0", "Mt", "Mh Poisson2", "Mth Darroch", "Mb", "Mbh", "Mh Chao (LB)"]


@st.composite
def history_tables(draw):
    t = draw(st.integers(3, 5))
    rows = draw(st.lists(st.lists(st.integers(0, 1), min_size=t, max_size=t),
                         min_size=6, max_size=40))
    counts = draw(st.lists(st.integers(0, 6), min_size=len(rows), max_size=len(rows)))
    kept = [(r, c) for r, c in zip(rows, counts) if any(r) and c > 0]
    # a few fixed histories guarantee recaptures, so that the models are bounded
    kept += [([1] * t, 2), ([1, 0] * t, 1), ([1, 1] + [0] * (t - 2), 3),
             ([0] * (t - 1) + [1], 4), ([0, 1] + [0] * (t - 2), 5)]
    rows = [r[:t] for r, _ in kept]
    counts = [c for _, c in kept]
    return np.array(rows), np.array(counts)


def _estimates(data):
    table = fit_closed_models(data, models=MODELS)
    return np.array([m.abundance_ for m in table.models]), np.array(
        [m.deviance_ for m in table.models])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history_tables(), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(table, rnd):
    rows, counts = table
    order = list(range(len(rows)))
    rnd.shuffle(order)
    a = _estimates(CaptureHistories.from_matrix(rows, counts))
    b = _estimates(CaptureHistories.from_matrix(rows[order], counts[order]))
    np.testing.assert_allclose(a[0], b[0], rtol=1e-7)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-7, atol=1e-7)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history_tables())
def test_weighted_rows_equal_expanded_rows(table):
    rows, counts = table
    weighted = CaptureHistories.from_matrix(rows, counts)
    expanded = CaptureHistories.from_matrix(np.repeat(rows, counts, axis=0))
    a, b = _estimates(weighted), _estimates(expanded)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-7)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("t", [4, 7, 11])
def test_time_effects_engine_equals_full_table(monkeypatch, t):
    """The symmetric-polynomial fit of Mt/Mth equals the full-table Poisson regression."""
    import crowdcensus.capture.closed.model as closed

    rng = np.random.default_rng(t)
    p = np.clip(rng.beta(2, 5, size=4000)[:, None] * rng.uniform(0.5, 1.5, t), 0, 1)
    data = CaptureHistories.from_matrix((rng.random((4000, t)) < p).astype(int))
    names = ["Mt", "Mth Chao (LB)", "Mth Poisson2", "Mth Darroch", "Mth Gamma3.5"]
    monkeypatch.setattr(closed, "TIME_EFFECTS_MIN_T", 99)
    full = fit_closed_models(data, models=names)
    monkeypatch.setattr(closed, "TIME_EFFECTS_MIN_T", 2)
    engine = fit_closed_models(data, models=names)
    for a, b in zip(full.models, engine.models):
        assert type(b.fit_.design).__name__ == "TimeEffectsDesign"
        assert b.abundance_ == pytest.approx(a.abundance_, rel=1e-7)
        assert b.stderr_ == pytest.approx(a.stderr_, rel=1e-5)
        assert b.deviance_ == pytest.approx(a.deviance_, abs=1e-6)
        assert b.df_ == a.df_
        assert b.status_ == a.status_
