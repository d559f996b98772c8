"""Open-population estimates against a simulated population with known truth."""

import numpy as np

from crowdcensus.capture.open.model import OpenPopulationModel

from .simulate import simulate_js

T = 7
PHI = 0.8
P = 0.45
B = 300
N1 = 1500


def test_estimates_near_truth_within_their_standard_errors():
    h, true_n = simulate_js(N1, [B] * (T - 1), [PHI] * (T - 1), [P] * T, seed=2024)
    m = OpenPopulationModel().fit(h)
    per = {c: m.periods_[c].to_numpy() for c in m.periods_.columns}
    # every estimable quantity within 3.5 standard errors of its truth (|z| > 3.5
    # has probability 5e-4 per quantity); standard errors are those of the model
    for i in range(1, T - 1):
        assert abs(per["capture_prob"][i] - P) < 3.5 * per["capture_prob_se"][i]
    for i in range(0, T - 2):
        if per["survival_se"][i] > 0:
            assert abs(per["survival"][i] - PHI) < 3.5 * per["survival_se"][i]
    for i in range(1, T - 1):
        # N_i: the realised abundance; the SE excludes the binomial part, so add it back
        se = np.sqrt(per["abundance_se"][i] ** 2 + true_n[i] * (1 - P) / P)
        assert abs(per["abundance"][i] - true_n[i]) < 3.5 * se
    for i in range(1, T - 2):
        assert abs(per["arrivals"][i] - B) < 3.5 * per["arrivals_se"][i] + 3.5 * np.sqrt(B)
    # the standard errors are informative, not huge
    assert np.nanmax(per["survival_se"]) < 0.06


def test_half_life_interval_covers_the_true_half_life():
    h, _ = simulate_js(N1, [B] * (T - 1), [PHI] * (T - 1), [P] * T, seed=77)
    hl = OpenPopulationModel().fit(h).half_life(0.95)
    truth = np.log(0.5) / np.log(PHI)  # 3.11 periods
    assert hl["low"] < truth < hl["high"]
    assert abs(hl["estimate"] - truth) < 0.25 * truth


def test_no_arrivals_no_deaths_gives_survival_one_and_no_arrivals():
    h, _ = simulate_js(2000, [0] * 4, [1.0] * 4, [0.5] * 5, seed=3)
    m = OpenPopulationModel().fit(h)
    per = {c: m.periods_[c].to_numpy() for c in m.periods_.columns}
    assert np.all(np.abs(per["survival"][:3] - 1) < 0.05)
    assert np.all(np.abs(per["arrivals"][1:3]) < 3 * per["arrivals_se"][1:3] + 5)
    assert abs(per["abundance"][2] - 2000) < 4 * np.sqrt(per["abundance_se"][2] ** 2 + 2000)
