"""Properties that hold for any input: nesting of the experiment's tiers, progress on stderr."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdcensus.methods.experiment import experiment_tiers
from crowdcensus.pipeline import run_study
from crowdcensus.study import parse_study
from crowdcensus.tiers import FREQUENCY_CATEGORIES, disjoint, reach_probability

from .conftest import minimal_study


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 500), min_size=5, max_size=5).filter(lambda c: sum(c) > 0),
    p_week=st.lists(st.floats(0.01, 1.0), min_size=5, max_size=5),
    weeks=st.floats(0.5, 52),
    n_active=st.floats(1, 1e7),
)
def test_experiment_tiers_are_nested_and_bands_add_up(counts, p_week, weeks, n_active):
    reach = reach_probability(np.array([p_week]), weeks)
    tiers, bands = experiment_tiers(np.array([n_active]), np.array([counts], float), reach,
                                    FREQUENCY_CATEGORIES)
    assert tiers["very_active"][0] <= tiers["regular"][0] * (1 + 1e-12)
    assert tiers["regular"][0] <= tiers["occasional"][0] * (1 + 1e-12)
    assert np.isclose(tiers["occasional"][0], n_active)
    d = disjoint(tiers)
    assert np.isclose(sum(v[0] for v in d.values()), n_active)
    assert np.isclose(sum(v[0] for v in bands.values()), 1.0)


def test_progress_bar_goes_to_stderr(capsys):
    run_study(parse_study(minimal_study()), draws=1200, progress=True, joint=False)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Monte Carlo" in captured.err and "1200/1200" in captured.err
