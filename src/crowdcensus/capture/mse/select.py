"""Model selection for multiple systems estimation: forward stepwise, BIC, downhill.

Both follow B. Silverman's R package MultipleSystemsEstimation (the methods of
Chan, Silverman & Vincent 2021 and Silverman, Chan & Vincent 2024).

Stepwise
    Start from the main-effects model. For every interaction ``k`` of two lists
    not yet in the model, the statistic is the margin ``n*_k`` (individuals on
    both lists); under the current model it is Poisson with mean
    ``mu*_k = sum of fitted counts of the cells containing k``. Its p-value is
    ``min(P(X <= n*_k), P(X >= n*_k))``. Candidates whose enlarged model fails
    :func:`~crowdcensus.capture.mse.loglinear.check_model` are set aside; the candidate
    with the smallest p-value is added while that p-value is below the
    threshold (default 0.02); ties go to the first pair in the order
    (1,2), (1,3), ..., (L-1,L).

BIC and downhill
    See :mod:`crowdcensus.capture.mse.bic` (exhaustive ranking of every
    hierarchical model up to an order, and the downhill search).

References
----------
Chan, L., Silverman, B. W. and Vincent, K. (2021). *JASA* 116(535), 1297-1306.

Silverman, B. W., Chan, L. and Vincent, K. (2024). Bootstrapping multiple
systems estimates to account for model selection. *Statistics and Computing* 34, 44.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.special import pdtr, pdtrc

from crowdcensus.capture.mse.bic import (  # noqa: F401 - re-exported
    MAX_BIC_MODELS,
    RankedModel,
    bic_search,
    default_max_order,
    downhill_search,
    hierarchical_members,
)
from crowdcensus.capture.mse.loglinear import (
    HierarchicalModel,
    MSEFit,
    OverlapTable,
    bits,
    check_model,
    describe_check,
    fit_model,
)
from crowdcensus.errors import InputError, ModelError, NotIdentifiableError

#: Default p-value threshold of the stepwise selection.
DEFAULT_PTHRESH = 0.02


@dataclass(frozen=True)
class StepRecord:
    """One step of the stepwise selection: the term added and its p-value."""

    term: str
    p_value: float
    popest: float


def stepwise(
    table: OverlapTable, pthresh: float = DEFAULT_PTHRESH
) -> tuple[MSEFit, list[StepRecord]]:
    """Forward stepwise selection of two-list interactions.

    Returns
    -------
    fit : MSEFit
        The selected model, fitted.
    steps : list of StepRecord
        The interactions added, in order.
    """
    if not 0 <= pthresh <= 1:
        raise InputError(f"the p-value threshold must lie in [0, 1] (got {pthresh})")
    L = table.n_lists
    model = HierarchicalModel.main_effects(L)
    code = check_model(table, model)
    if code:
        raise NotIdentifiableError(describe_check(code, model))
    current = fit_model(table, model, check=False)
    steps: list[StepRecord] = []
    pairs = [(1 << i) | (1 << j) for i, j in itertools.combinations(range(L), 2)]
    cells = table.cells
    while True:
        terms = current.model.terms
        candidates = [k for k in pairs if k not in terms]
        if not candidates or pthresh == 0:
            break
        cand = np.asarray(candidates, dtype=np.int64)
        inside = ((cells[:, None] & cand[None, :]) == cand[None, :]).astype(float)
        expected = current.fitted @ inside
        observed = table.counts @ inside
        # min(P(X <= n*), P(X >= n*)) for X ~ Poisson(mu*)
        lower = pdtr(observed, expected)
        upper = np.where(observed > 0, pdtrc(observed - 1, expected), 1.0)
        pvals = np.minimum(lower, upper)
        scored = [(float(pv), idx, k) for idx, (pv, k) in enumerate(zip(pvals, candidates,
                                                                          strict=True))]
        scored.sort()
        chosen = None
        for pval, _idx, k in scored:
            if pval >= pthresh:
                break
            # check lazily: a candidate failing the check would get p = 1
            if check_model(table, current.model.add(k)) == 0:
                chosen = (pval, k)
                break
        if chosen is None:
            break
        current = fit_model(table, current.model.add(chosen[1]), check=False)
        steps.append(StepRecord(_pair_name(chosen[1]), chosen[0], current.popest))
    return current, steps


def _pair_name(mask: int) -> str:
    return "".join(str(i + 1) for i in bits(mask)) if mask < 2**9 else ".".join(
        str(i + 1) for i in bits(mask))


def hierarchical_models(n_lists: int, max_order: int) -> list[HierarchicalModel]:
    """All hierarchical models with every main effect and terms of order <= ``max_order``,
    in the order of :func:`~crowdcensus.capture.mse.bic.hierarchical_members`."""
    universe, members = hierarchical_members(n_lists, max_order)
    return [HierarchicalModel.from_terms(n_lists, [universe[j] for j in np.flatnonzero(row)])
            for row in members]


def default_top_models(n_lists: int) -> int | None:
    """Models kept for the BIC bootstrap: all up to 3 lists, 20 for 4, 100 beyond
    (the defaults of ``estimate_population_bic`` in MultipleSystemsEstimation)."""
    return None if n_lists <= 3 else 20 if n_lists == 4 else 100


def select_model(
    table: OverlapTable,
    method: str,
    model: str | HierarchicalModel | None = None,
    pthresh: float = DEFAULT_PTHRESH,
    max_order: int | None = None,
    bic_models: tuple[str, ...] | None = None,
) -> MSEFit:
    """Run one selection method and return the fitted model.

    ``method`` is ``"stepwise"``, ``"bic"``, ``"downhill"``, ``"fixed"`` (needs
    ``model``) or ``"main"`` (main effects only).
    """
    if method == "stepwise":
        return stepwise(table, pthresh)[0]
    if method == "bic":
        return bic_search(table, max_order, bic_models)[0]
    if method == "downhill":
        return downhill_search(table, max_order)[0]
    if method == "main":
        return fit_model(table, HierarchicalModel.main_effects(table.n_lists))
    if method == "fixed":
        if model is None:
            raise InputError("--method fixed needs a model, e.g. --model \"[12,3]\"")
        if isinstance(model, str):
            model = HierarchicalModel.parse(model, table.n_lists)
        return fit_model(table, model)
    raise InputError(f"unknown method {method!r} (use stepwise, bic, downhill, fixed or main)")


def population_estimate(
    counts: np.ndarray,
    lists: tuple[str, ...],
    method: str,
    model: str | None = None,
    pthresh: float = DEFAULT_PTHRESH,
    max_order: int | None = None,
    bic_models: tuple[str, ...] | None = None,
) -> float:
    """Population estimate after model selection on a table of counts (``nan`` if none).

    A plain function of picklable arguments, so that bootstrap replicates can
    run it in other processes or on a Dask cluster.
    """
    table = OverlapTable(np.asarray(counts, dtype=float), tuple(lists))
    try:
        return select_model(table, method, model, pthresh, max_order, bic_models).popest
    except ModelError:  # no usable model on this resampled table
        return float("nan")
