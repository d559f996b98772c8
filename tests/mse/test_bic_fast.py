"""Exhaustive BIC in vectorised batches and the downhill search.

The batched checks and fits must give what fitting one model at a time gives
(``check_model`` + ``fit_model``, the path tested against R elsewhere), and on
six lists the selection must be R's (numbers in ``reference_bic.py``).
"""

from pathlib import Path

import numpy as np
import pytest

from crowdcensus.capture.mse.batch import fit_batch, membership, term_universe
from crowdcensus.capture.mse.bic import (
    bic_search,
    default_max_order,
    downhill_search,
    hierarchical_members,
    model_names,
)
from crowdcensus.capture.mse.loglinear import (
    NOT_EXISTING,
    HierarchicalModel,
    OverlapTable,
    check_model,
    fit_model,
)
from crowdcensus.capture.mse.select import hierarchical_models
from crowdcensus.capture.readers import read_histories
from crowdcensus.errors import TooLargeError

from .reference_bic import DOWNHILL, SIX_LISTS

DATA = Path(__file__).parent / "data"


def table(name: str) -> OverlapTable:
    return OverlapTable.from_histories(read_histories(DATA / f"{name}.csv"))


def assert_batch_matches_one_at_a_time(t: OverlapTable, models: list[HierarchicalModel]):
    sets = [m.terms for m in models]
    universe = term_universe(sets)
    res = fit_batch(t, universe, membership(sets, universe))
    for i, m in enumerate(models):
        code = check_model(t, m)
        assert res.status[i] == code, (str(m), code, res.status[i])
        if code == 0:
            f = fit_model(t, m, check=False)
            assert res.bic[i] == pytest.approx(f.bic, rel=1e-9, abs=1e-7), str(m)
            assert res.aic[i] == pytest.approx(f.aic, rel=1e-9, abs=1e-7), str(m)
            assert res.popest[i] == pytest.approx(f.popest, rel=1e-8), str(m)
    return res


@pytest.mark.parametrize(("name", "order"), [("korea", 2), ("western", 4),
                                             ("kosovo", 3), ("sim5", 3)])
def test_every_model_as_when_fitted_alone(name, order):
    t = table(name)
    res = assert_batch_matches_one_at_a_time(t, hierarchical_models(t.n_lists, order))
    assert (res.status == 0).sum() > 0


def test_sparse_tables_existence_verdicts_as_when_checked_alone():
    # zero cells everywhere: the pruned linear programs must give every model's verdict
    rng = np.random.default_rng(3)
    failures = 0
    for _ in range(12):
        counts = rng.poisson(rng.uniform(0.3, 4.0), 15).astype(float)
        if counts.sum() < 5:
            continue
        t = OverlapTable(counts, ("a", "b", "c", "d"))
        res = assert_batch_matches_one_at_a_time(t, hierarchical_models(4, 3))
        failures += int(np.sum(res.status & NOT_EXISTING > 0))
    assert failures > 20  # the draw does exercise the non-existence path


def test_names_and_enumeration_order_as_the_model_objects():
    for L, order in [(3, 2), (4, 3), (5, 2), (5, 4)]:
        universe, members = hierarchical_members(L, order)
        expected = [str(m) for m in hierarchical_models(L, order)]
        assert model_names(L, universe, members) == expected
    assert hierarchical_members(6, 2)[1].shape == (2**15, 1 + 6 + 15)
    with pytest.raises(TooLargeError, match="downhill"):
        hierarchical_members(7, 2)


def test_default_max_order_is_multiple_systems_estimation_s():
    # estimate_population_bic: 1 for two lists, 2 for three, 3 for four and five, 2 for six
    assert [default_max_order(L) for L in (2, 3, 4, 5, 6)] == [1, 2, 3, 3, 2]


@pytest.mark.parametrize("name", sorted(SIX_LISTS))
def test_six_lists_select_r_s_model(name):
    model, popest, bic = SIX_LISTS[name]
    t = table(name)
    best, ranking = bic_search(t)
    assert len(ranking) == 2**15  # every pairwise model usable on these data
    assert str(best.model) == ranking[0].model == str(HierarchicalModel.parse(model, 6))
    assert best.popest == pytest.approx(popest, rel=1e-6)
    assert best.bic == pytest.approx(bic, rel=1e-6)
    # the ranking's figures are those of each model fitted alone: the best 30 and a sample
    rng = np.random.default_rng(0)
    rows = ranking[:30] + [ranking[i] for i in rng.choice(len(ranking), 60, replace=False)]
    for r in rows:
        f = fit_model(t, HierarchicalModel.parse(r.model, t.n_lists))
        assert (r.bic, r.popest) == pytest.approx((f.bic, f.popest), rel=1e-9)
    bics = [round(r.bic, 8) for r in ranking]
    assert bics == sorted(bics)


def test_downhill_follows_r_s_korea_path():
    # R test-model-selection.R: [1,2,3] -> [12,3] (BIC 58.9686) -> [12,23] (57.14081)
    fit, path = downhill_search(table("korea"), max_order=2)
    assert [s.model for s in path] == ["[1,2,3]", "[12,3]", "[12,23]"]
    assert [s.bic for s in path[1:]] == pytest.approx([58.9686, 57.14081], abs=1e-4)
    assert fit.popest == pytest.approx(157.16667, rel=1e-6)
    # models fitted, as R's hierarchies_considered: [1,2,3] and three pairs; [12,13] and
    # [12,23]; [12,13,23]
    assert [s.considered for s in path] == [4, 6, 7]


@pytest.mark.parametrize("name", sorted(DOWNHILL))
def test_downhill_reaches_r_s_model(name):
    model, popest, bic, considered = DOWNHILL[name]
    t = table(name)
    fit, path = downhill_search(t)
    assert path[-1].considered == considered
    assert str(fit.model) == str(HierarchicalModel.parse(model, t.n_lists))
    assert fit.popest == pytest.approx(popest, rel=1e-5)
    assert fit.bic == pytest.approx(bic, rel=1e-6)
