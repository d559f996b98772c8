"""Parity with the R package MultipleSystemsEstimation (numbers in reference.py)."""

from pathlib import Path

import pytest

from crowdcensus.capture.mse.model import MultipleSystemsModel
from crowdcensus.capture.readers import read_histories

from .reference import EXPECTED, RTOL

DATA = Path(__file__).parent / "data"


# the exhaustive BIC search on the eight lists of Western takes tens of seconds
CASES = [pytest.param(*key, marks=pytest.mark.slow) if key == ("western", "bic") else key
         for key in sorted(EXPECTED)]


@pytest.mark.parametrize(("dataset", "method"), CASES)
def test_popest_and_model_against_R(dataset, method):
    popest, model = EXPECTED[(dataset, method)]
    est = MultipleSystemsModel(method).fit(read_histories(DATA / f"{dataset}.csv"))
    assert est.model_ == model
    assert est.abundance_ == pytest.approx(popest, rel=RTOL)


def test_fixed_model_reproduces_selected_models():
    h = read_histories(DATA / "korea.csv")
    for (dataset, _), (popest, model) in EXPECTED.items():
        if dataset == "korea":
            est = MultipleSystemsModel("fixed", model).fit(h)
            assert est.abundance_ == pytest.approx(popest, rel=RTOL)
