"""Closed forms and limits that the log-linear fits must reproduce."""

import numpy as np
import pytest

from crowdcensus.capture.glm import fit_poisson
from crowdcensus.capture.histories import CaptureHistories
from crowdcensus.capture.mse.loglinear import (
    NOT_EXISTING,
    NOT_IDENTIFIABLE,
    HierarchicalModel,
    OverlapTable,
    check_model,
    design,
    fit_model,
)
from crowdcensus.capture.mse.select import hierarchical_models, stepwise
from crowdcensus.errors import InputError, NotIdentifiableError


def table(counts_by_pattern: dict[str, int]) -> OverlapTable:
    """Counts keyed by patterns such as '101' (list 1 first)."""
    rows = [[int(c) for c in k] for k in counts_by_pattern]
    h = CaptureHistories.from_matrix(np.array(rows), list(counts_by_pattern.values()),
                                     [f"L{i + 1}" for i in range(len(rows[0]))])
    return OverlapTable.from_histories(h)


def test_two_lists_main_effects_is_lincoln_petersen():
    t = table({"10": 60, "01": 90, "11": 30})
    fit = fit_model(t, HierarchicalModel.main_effects(2))
    n1, n2, m = 90, 120, 30
    assert fit.popest == pytest.approx(n1 * n2 / m, rel=1e-9)


def test_three_lists_no_three_way_interaction_closed_form():
    y = {"100": 41, "010": 25, "001": 33, "110": 12, "101": 9, "011": 14, "111": 5}
    fit = fit_model(table(y), HierarchicalModel.parse("[12,13,23]", 3))
    dark = y["100"] * y["010"] * y["001"] * y["111"] / (y["110"] * y["101"] * y["011"])
    assert fit.dark_figure == pytest.approx(dark, rel=1e-8)
    assert fit.popest == pytest.approx(sum(y.values()) + dark, rel=1e-9)


def test_model_notation_round_trip_and_hierarchy():
    m = HierarchicalModel.parse("[3,21]", 3)
    assert str(m) == "[12,3]"
    assert str(HierarchicalModel.parse("[123]", 3)) == "[123]"
    assert HierarchicalModel.parse("[123]", 3).terms == frozenset(range(1, 8))
    with pytest.raises(InputError):
        HierarchicalModel.parse("[14]", 3)
    with pytest.raises(InputError):
        HierarchicalModel.parse("twelve", 3)
    # graphs on 3 vertices: 2**3 pair sets, plus [123]
    assert len(hierarchical_models(3, 2)) == 8
    assert len(hierarchical_models(3, 3)) == 9
    assert len(hierarchical_models(4, 2)) == 2**6


def sparse_table() -> OverlapTable:
    # lists 1 and 3 never overlap, although both are large
    return table({"100": 80, "010": 50, "001": 70, "110": 30, "011": 25})


def test_nonoverlapping_pair_is_fitted_at_minus_infinity_as_a_limit():
    t = sparse_table()
    model = HierarchicalModel.parse("[13,2]", 3)
    fit = fit_model(t, model)
    assert fit.minus_infinity == ("13",)
    assert fit.fitted[0b101 - 1] == 0 and fit.fitted[0b111 - 1] == 0
    # the extended MLE is the limit of fits with the 13 interaction fixed ever lower
    params = (0, 1, 2, 4)
    X = design(t.cells, params)
    offset = -40.0 * ((t.cells & 0b101) == 0b101)
    limit = fit_poisson(X, t.counts, offset=offset)
    assert fit.popest == pytest.approx(t.n_observed + np.exp(limit.coef[0]), rel=1e-6)
    # the -inf parameter still counts in the penalty
    assert fit.n_params == 5


def test_stepwise_adds_a_nonoverlapping_pair_and_stays_identifiable():
    t = sparse_table()
    fit, steps = stepwise(t)
    assert "13" in [s.term for s in steps]
    assert "13" in fit.minus_infinity
    assert check_model(t, fit.model) == 0
    assert np.isfinite(fit.popest) and fit.popest > t.n_observed


def test_not_identifiable_model_is_refused():
    t = table({"100": 80, "010": 50, "001": 70, "101": 20, "011": 25})  # 1 and 2 never overlap
    model = HierarchicalModel.parse("[12,13,23]", 3)
    assert check_model(t, model) & NOT_IDENTIFIABLE
    with pytest.raises(NotIdentifiableError, match="not identifiable"):
        fit_model(t, model)


def test_mle_that_does_not_exist_is_detected_by_the_linear_program():
    # all two-list margins positive, but a zero cell under a model saturated on the 7 cells
    t = table({"100": 80, "010": 50, "001": 70, "101": 20, "011": 25, "111": 4})
    model = HierarchicalModel.parse("[12,13,23]", 3)
    assert t.margin(0b011) > 0
    assert check_model(t, model) == NOT_EXISTING
    with pytest.raises(NotIdentifiableError, match="does not exist"):
        fit_model(t, model)
    # [13,23] is saturated on the six positive cells: the zero cell can still run off
    assert check_model(t, HierarchicalModel.parse("[13,23]", 3)) == NOT_EXISTING
    # with one interaction fewer there is no direction of recession left
    assert check_model(t, HierarchicalModel.parse("[13,2]", 3)) == 0
    assert np.isfinite(fit_model(t, HierarchicalModel.parse("[13,2]", 3)).popest)


def test_rank_shortcut_agrees_with_the_fienberg_rinaldo_program():
    # check_model skips the linear program when the positive cells alone pin the
    # parameters down; on random sparse tables the verdict must equal the program's
    from crowdcensus.capture.mse.loglinear import _layout, _lp_positive_table_exists

    rng = np.random.default_rng(8)
    disagreements = 0
    seen_missing = 0
    for _ in range(60):
        L = int(rng.integers(3, 5))
        counts = rng.poisson(rng.uniform(0.2, 6.0), 2**L - 1).astype(float)
        if counts.sum() == 0:
            continue
        t = OverlapTable(counts, tuple(f"L{i}" for i in range(L)))
        models = hierarchical_models(L, 2)
        model = models[int(rng.integers(len(models)))]
        lay = _layout(t, model)
        X = design(t.cells[lay.kept], lay.estimated)
        if X.shape[0] == 0:
            continue
        exists = _lp_positive_table_exists(X, t.counts[lay.kept])
        seen_missing += not exists
        disagreements += bool(check_model(t, model) & NOT_EXISTING) == exists
    assert disagreements == 0
    assert seen_missing > 0  # the draw did include tables without an MLE
