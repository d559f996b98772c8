"""A band without recaptures: the run falls back to the pooled fit and says so."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crowdcensus.pipeline import run_study
from crowdcensus.simulate.outputs import write_simulation
from crowdcensus.simulate.world import generate_world
from tests.simulate.conftest import small


def test_band_without_recaptures_falls_back_to_pooled(tmp_path):
    world = generate_world(small("ideal", workers=3000), np.random.default_rng(1))
    study = write_simulation(world, tmp_path)
    responses = pd.read_csv(tmp_path / "responses.csv")
    # keep one answer per "less often" respondent: that band has no recapture at all
    low = responses["frequency"] == "less_often"
    kept = pd.concat([responses[~low], responses[low].drop_duplicates("worker_hash")])
    kept.to_csv(tmp_path / "responses.csv", index=False)
    results = run_study(study)
    assert any("fell back" in w and "occasional only" in w for w in results.warnings)
    assert not hasattr(results.capture, "strata")
    assert results.methods["experiment"]["occasional"].estimate > 0
