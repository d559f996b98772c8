"""BIC model selection over hierarchical models: exhaustive ranking and downhill search.

Exhaustive
    Every hierarchical model with all main effects and interactions of order
    at most ``max_order`` is checked and fitted in vectorised batches
    (:mod:`crowdcensus.capture.mse.batch`) and ranked by
    ``BIC = p log(n) - 2 loglik`` (``p`` counts every parameter, those at
    ``-inf`` included; ``n`` = individuals observed). The default
    ``max_order`` is MultipleSystemsEstimation's (``estimate_population_bic``):
    1 for two lists, 2 for three, 3 for four or five, 2 for six; beyond six
    lists there are too many models (:data:`MAX_BIC_MODELS`) and the downhill
    search is the way.

Downhill
    MultipleSystemsEstimation's ``downhill_fit`` (Silverman, Chan & Vincent
    2024): start from the main-effects model; at each step fit every
    neighbour not yet considered -- the models with one more term whose
    sub-terms are all present (order at most ``max_order``, default ``L - 1``)
    and those with one interaction generator removed -- and move to the one
    with the lowest BIC while it improves on the current model; at most
    ``niter`` (20) steps. Models that fail the existence or identifiability
    check are skipped. It finds a local optimum only, but in a few hundred
    fits where the exhaustive search needs millions beyond six lists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from crowdcensus.capture.mse.batch import fit_batch, membership, term_universe
from crowdcensus.capture.mse.loglinear import (
    HierarchicalModel,
    MSEFit,
    OverlapTable,
    bits,
    fit_model,
    popcount,
)
from crowdcensus.errors import InputError, NotIdentifiableError, TooLargeError

#: Most models the exhaustive BIC search will enumerate.
MAX_BIC_MODELS = 40_000
#: Steps of the downhill search (MultipleSystemsEstimation's ``niter``).
DOWNHILL_STEPS = 20


class RankedModel(NamedTuple):
    """A row of the BIC ranking."""

    model: str
    popest: float
    bic: float
    aic: float
    order: int


def default_max_order(n_lists: int) -> int:
    """Highest interaction order of the exhaustive BIC search by default.

    MultipleSystemsEstimation's choice: 1 for two lists, 2 for three, 3 for
    four or five (for five lists, order 4 adds thousands of models that are
    almost never chosen), 2 for six lists and more.
    """
    return {2: 1, 3: 2, 4: 3, 5: 3}.get(n_lists, 2)


def _interaction_terms(n_lists: int, max_order: int) -> list[int]:
    return sorted((m for m in range(1, 2**n_lists) if 2 <= popcount(m) <= max_order),
                  key=lambda m: (popcount(m), m))


def hierarchical_members(n_lists: int, max_order: int) -> tuple[list[int], np.ndarray]:
    """Every hierarchical model with all main effects and interactions up to ``max_order``.

    Returns the term universe (intercept 0, then terms by size and mask) and a
    boolean matrix with one row per model (see
    :func:`~crowdcensus.capture.mse.batch.membership`). A term of order
    ``r >= 3`` may enter only with all its ``r - 1`` sub-terms. Models come in
    a fixed order (the first interaction absent before present, recursively),
    which breaks BIC ties.

    Raises
    ------
    TooLargeError
        When there would be more than :data:`MAX_BIC_MODELS` models.
    """
    if max_order < 1:
        raise InputError("the maximum interaction order must be at least 1")
    terms = _interaction_terms(n_lists, min(max_order, n_lists))
    universe = [0, *(1 << i for i in range(n_lists)), *terms]
    n = len(terms)
    if n and popcount(terms[-1]) == 2:
        # pairs only: every subset is hierarchical; model k has pair i iff bit n-1-i of k
        if n > MAX_BIC_MODELS.bit_length() - 1:
            _too_many(n_lists, max_order)
        codes = np.arange(2**n, dtype=np.int64)
        inter = (codes[:, None] >> np.arange(n - 1, -1, -1)) & 1
    else:
        found: list[int] = []
        chosen: set[int] = set()

        def walk(i: int, code: int) -> None:
            if len(found) > MAX_BIC_MODELS:
                return
            if i == n:
                found.append(code)
                return
            walk(i + 1, code)
            t = terms[i]
            if popcount(t) == 2 or all((t & ~(1 << b)) in chosen for b in bits(t)):
                chosen.add(t)
                walk(i + 1, code | 1 << i)
                chosen.discard(t)

        walk(0, 0)
        if len(found) > MAX_BIC_MODELS:
            _too_many(n_lists, max_order)
        inter = np.array([[c >> i & 1 for i in range(n)] for c in found], dtype=np.int64)
        inter = inter.reshape(len(found), n)
    members = np.ones((inter.shape[0], 1 + n_lists + n), dtype=bool)
    members[:, 1 + n_lists:] = inter.astype(bool)
    return universe, members


def _too_many(n_lists: int, max_order: int) -> None:
    raise TooLargeError(
        f"more than {MAX_BIC_MODELS:,} hierarchical models for {n_lists} lists up to "
        f"order {max_order}; lower --max-order or use --method downhill or stepwise"
    )


def model_names(n_lists: int, universe: list[int], members: np.ndarray) -> list[str]:
    """``[12,3]`` notation of every model of a membership matrix, as ``str(HierarchicalModel)``."""
    U = np.asarray(universe, dtype=np.int64)
    # inside[i, j]: term i is a proper sub-term of term j (the intercept counts for none)
    inside = ((U[:, None] & U[None, :]) == U[:, None]) & (U[:, None] != U[None, :])
    inside[0, :] = False
    maximal = members & ~((members.astype(float) @ inside.T.astype(float)) > 0)
    sep = "." if n_lists >= 10 else ""
    order = sorted(range(1, len(U)), key=lambda j: tuple(i + 1 for i in bits(int(U[j]))))
    text = np.full(members.shape[0], "", dtype=object)
    for j in order:
        label = sep.join(str(i + 1) for i in bits(int(U[j]))) + ","
        text = np.where(maximal[:, j], text + label, text)
    return ["[" + t[:-1] + "]" for t in text.tolist()]


def _orders(universe: list[int], members: np.ndarray) -> np.ndarray:
    sizes = np.array([popcount(int(t)) for t in universe])
    return (members * sizes[None, :]).max(axis=1)


def _rank(table, universe, members, names, workers) -> tuple[MSEFit, list[RankedModel]]:
    res = fit_batch(table, universe, members, workers=workers)
    usable = np.flatnonzero((res.status == 0) & np.isfinite(res.bic))
    if usable.size == 0:
        raise NotIdentifiableError(
            "no hierarchical model has an identifiable estimate on these data")
    # ties (to 1e-8, far above the fits' rounding) keep the enumeration order
    order = usable[np.lexsort((usable, np.round(res.bic[usable], 8)))]
    orders = _orders(universe, members)
    rows = [RankedModel(*r) for r in zip([names[i] for i in order], res.popest[order].tolist(),
                                         res.bic[order].tolist(), res.aic[order].tolist(),
                                         orders[order].tolist(), strict=True)]
    best = HierarchicalModel.parse(names[order[0]], table.n_lists)
    return fit_model(table, best, check=False), rows


def bic_search(
    table: OverlapTable,
    max_order: int | None = None,
    models: tuple[str, ...] | None = None,
    workers: int = 1,
) -> tuple[MSEFit, list[RankedModel]]:
    """Exhaustive BIC selection over hierarchical models.

    Returns the best fit and every usable model ranked by increasing BIC
    (ties keep enumeration order). ``models`` restricts the search to the
    given models (``[12,3]`` notation), as the bootstrap does with the best
    models of the original data. ``workers`` local processes share the fits.
    """
    L = table.n_lists
    if models is None:
        order = default_max_order(L) if max_order is None else max_order
        universe, members = hierarchical_members(L, order)
        names = model_names(L, universe, members)
    else:
        parsed = [HierarchicalModel.parse(m, L) for m in models]
        sets = [m.terms for m in parsed]
        universe = term_universe(sets)
        members = membership(sets, universe)
        names = [str(m) for m in parsed]
    return _rank(table, universe, members, names, workers)


def _neighbours(model: frozenset[int], n_lists: int, max_order: int) -> list[frozenset[int]]:
    """Models one term away: one generator removed (not a main effect), or one term added."""
    out = []
    for g in sorted(model, key=lambda m: (popcount(m), m)):
        if popcount(g) >= 2 and not any(g != t and t & g == g for t in model):
            out.append(model - {g})
    for t in range(1, 2**n_lists):
        k = popcount(t)
        if 2 <= k <= max_order and t not in model and all(
                (t & ~(1 << b)) in model for b in bits(t)):
            out.append(model | {t})
    return out


@dataclass(frozen=True)
class DownhillStep:
    """One model of the downhill path.

    ``considered`` counts the models fitted once this model's neighbours were
    evaluated (for the last model, the total of the search).
    """

    model: str
    popest: float
    bic: float
    considered: int


def downhill_search(
    table: OverlapTable, max_order: int | None = None, niter: int = DOWNHILL_STEPS
) -> tuple[MSEFit, list[DownhillStep]]:
    """Downhill BIC search from the main-effects model (see the module docstring).

    Returns the fit of the model reached and the path, from the main-effects model.
    """
    L = table.n_lists
    order = L - 1 if max_order is None else max_order
    if order < 1:
        raise InputError("the maximum interaction order must be at least 1")
    current = frozenset(1 << i for i in range(L))
    seen = {current}
    start = _evaluate(table, [current])
    if not np.isfinite(start[0][0]):
        raise NotIdentifiableError(
            "the main-effects model has no identifiable estimate on these data")
    best_bic, best_pop = start[0]
    path = [(current, best_pop, best_bic)]
    counts: list[int] = []  # models fitted once each path model's neighbours were
    for _ in range(niter):
        fresh = [m for m in _neighbours(current, L, order) if m not in seen]
        seen.update(fresh)
        counts.append(len(seen))
        if not fresh:
            break
        values = _evaluate(table, fresh)
        bics = np.array([v[0] for v in values])
        if not np.isfinite(bics).any() or np.nanmin(bics) >= best_bic:
            break
        i = int(np.nanargmin(bics))
        current, (best_bic, best_pop) = fresh[i], values[i]
        path.append((current, best_pop, best_bic))
    counts += [len(seen)] * (len(path) - len(counts))
    fit = fit_model(table, HierarchicalModel.from_terms(L, current), check=False)
    return fit, [DownhillStep(_name(m, L), p, b, n)
                 for (m, p, b), n in zip(path, counts, strict=True)]


def _evaluate(table: OverlapTable, models: list[frozenset[int]]) -> list[tuple[float, float]]:
    universe = term_universe(models)
    res = fit_batch(table, universe, membership(models, universe))
    return [(float(b), float(p)) if s == 0 and math.isfinite(b) else (math.inf, math.nan)
            for s, b, p in zip(res.status, res.bic, res.popest, strict=True)]


def _name(terms: frozenset[int], n_lists: int) -> str:
    return str(HierarchicalModel.from_terms(n_lists, terms))
