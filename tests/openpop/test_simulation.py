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
    # every estimable quantity within 3.5 standard errors of its truth (|z| > 3.5
    # has probability 5e-4 per quantity); standard errors are those of the model
    for i in range(1, T - 1):
        assert abs(m.capture_prob_[i] - P) < 3.5 * m.capture_prob_se_[i]
    for i in range(0, T - 2):
        if m.survival_se_[i] > 0:
            assert abs(m.survival_[i] - PHI) < 3.5 * m.survival_se_[i]
    for i in range(1, T - 1):
        # N_i: the realised abundance; the SE excludes the binomial part, so add it back
        se = np.sqrt(m.abundance_se_[i] ** 2 + true_n[i] * (1 - P) / P)
        assert abs(m.abundance_[i] - true_n[i]) < 3.5 * se
    for i in range(1, T - 2):
        assert abs(m.arrivals_[i] - B) < 3.5 * m.arrivals_se_[i] + 3.5 * np.sqrt(B)
    # the standard errors are informative, not huge
    assert np.nanmax(m.survival_se_) < 0.06


def test_half_life_interval_covers_the_true_half_life():
    h, _ = simulate_js(N1, [B] * (T - 1), [PHI] * (T - 1), [P] * T, seed=77)
    hl = OpenPopulationModel().fit(h).half_life(0.95)
    truth = np.log(0.5) / np.log(PHI)  # 3.11 periods
    assert hl["low"] < truth < hl["high"]
    assert abs(hl["estimate"] - truth) < 0.25 * truth


def test_no_arrivals_no_deaths_gives_survival_one_and_no_arrivals():
    h, _ = simulate_js(2000, [0] * 4, [1.0] * 4, [0.5] * 5, seed=3)
    m = OpenPopulationModel().fit(h)
    assert np.all(np.abs(m.survival_[:3] - 1) < 0.05)
    assert np.all(np.abs(m.arrivals_[1:3]) < 3 * m.arrivals_se_[1:3] + 5)
    assert abs(m.abundance_[2] - 2000) < 4 * np.sqrt(m.abundance_se_[2] ** 2 + 2000)
