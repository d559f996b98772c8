"""Checking and fitting many hierarchical models in one vectorised pass.

The exhaustive BIC search fits every hierarchical model of a table (32,768 of
them for six lists up to order 2), and the downhill search fits every
neighbour of the current model at each step. Fitting them one by one spends
most of its time in Python and in tiny LAPACK calls. Here a *batch* of ``B``
models shares one design: the columns are the union ``U`` of their terms
(intercept first) and a model is a 0/1 mask over ``U``. With the full design
``X`` (cells x ``U``), for every model ``b`` at once,

.. math::

    \\eta_b = X (m_b \\circ \\beta_b), \\qquad
    g_b = m_b \\circ X^\\top (y - \\mu_b), \\qquad
    I_b = m_b m_b^\\top \\circ \\sum_c \\mu_{bc}\\, x_c x_c^\\top ,

so the linear predictors, the gradients and the information matrices of the
whole batch are three matrix products (the last one against the ``|U|^2``
products ``x_c x_c^\\top``, precomputed). Inactive columns get a unit diagonal
and a zero gradient, so they stay at zero; cells removed because a term is
at ``-inf`` (a zero margin, see :mod:`crowdcensus.capture.mse.loglinear`) get a zero
weight. Newton steps are solved as one stacked ``numpy.linalg.solve``.

The same rules as :func:`~crowdcensus.capture.mse.loglinear.check_model` and
:func:`~crowdcensus.capture.mse.loglinear.fit_model` apply: identifiability is the rank
of the design on the kept cells; the extended MLE exists when the design on
the cells with a positive count already has full column rank, and otherwise
the Fienberg--Rinaldo linear program decides; Newton iterations start from
R's ``glm`` start and halve the step when the likelihood does not increase,
until the change in log-likelihood is below ``1e-11`` relative and the largest
step below ``1e-8``. The figures therefore agree with the one-model path to
rounding (checked in ``tests/mse/test_bic_fast.py``).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import gammaln
from threadpoolctl import threadpool_limits

from crowdcensus.capture.glm import MAX_ETA
from crowdcensus.capture.mse.loglinear import (
    NOT_EXISTING,
    NOT_IDENTIFIABLE,
    OverlapTable,
    _lp_positive_table_exists,
    popcount,
)
from crowdcensus.parallel import Runner

#: Models per vectorised chunk (bounds memory: a chunk holds chunk x |U|^2 floats).
CHUNK = 2048
_MAX_ITER = 100
_LL_TOL = 1e-11
_STEP_TOL = 1e-6
_DECREMENT_TOL = 1e-10


@dataclass(frozen=True)
class BatchFits:
    """Results of :func:`fit_batch`, one entry per model.

    Attributes
    ----------
    status : ndarray of int
        0 if usable, else the :func:`~crowdcensus.capture.mse.loglinear.check_model` code.
    popest, loglik, aic, bic : ndarray of float
        ``nan`` where ``status != 0``.
    n_params : ndarray of int
        Parameters of the hierarchical model, those at ``-inf`` included.
    converged : ndarray of bool
    """

    status: np.ndarray
    popest: np.ndarray
    loglik: np.ndarray
    aic: np.ndarray
    bic: np.ndarray
    n_params: np.ndarray
    converged: np.ndarray


def term_universe(term_sets) -> list[int]:
    """Intercept (0) then every term used by some model, ordered by size and mask."""
    union: set[int] = set()
    for terms in term_sets:
        union |= set(terms)
    union.discard(0)
    return [0, *sorted(union, key=lambda m: (popcount(m), m))]


def membership(term_sets, universe: list[int]) -> np.ndarray:
    """Boolean matrix ``(models, |U|)``: which columns of ``U`` each model uses."""
    index = {t: j for j, t in enumerate(universe)}
    out = np.zeros((len(term_sets), len(universe)), dtype=bool)
    out[:, 0] = True
    for b, terms in enumerate(term_sets):
        out[b, [index[t] for t in terms]] = True
    return out


@dataclass(frozen=True)
class _Problem:
    """What every chunk of a batch shares: the table and the design over ``U``."""

    X: np.ndarray  # cells x U
    outer: np.ndarray  # cells x U^2
    y: np.ndarray
    lgamma_sum: float
    zero_term: np.ndarray  # terms of U whose margin is zero (at -inf)
    n_obs: float
    start_mu: np.ndarray  # fitted values every Newton run starts from
    orders: np.ndarray  # number of lists in each term of U (0 for the intercept)


def fit_batch(
    table: OverlapTable, universe: list[int], members: np.ndarray, workers: int = 1
) -> BatchFits:
    """Check and fit every model given by a row of ``members`` (see :func:`membership`).

    ``members[:, j]`` says whether term ``universe[j]`` is in the model; every
    model must be hierarchical and contain the intercept and main effects.
    ``workers > 1`` splits the chunks between that many local processes
    (:class:`crowdcensus.parallel.Runner`).
    """
    members = np.asarray(members, dtype=bool)
    n_models = members.shape[0]
    y = table.counts.astype(float)
    U = np.asarray(universe, dtype=np.int64)
    X = ((table.cells[:, None] & U[None, :]) == U[None, :]).astype(float)
    outer = (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], -1)
    margins = np.array([table.margin(int(t)) if t else table.n_observed for t in U])
    problem = _Problem(X, outer, y, float(gammaln(y + 1.0).sum()), margins == 0,
                       table.n_observed, np.empty(0),
                       np.array([popcount(int(t)) for t in U]))
    with threadpool_limits(limits=1, user_api="blas"):
        problem = replace(problem, start_mu=_smoothed_fit(problem, members.any(axis=0)))
        slices = [slice(i, min(i + CHUNK, n_models)) for i in range(0, n_models, CHUNK)]
        with Runner(workers=workers if len(slices) > 1 else 1) as run:
            parts = run.map(_fit_chunk, [(problem, members[sl]) for sl in slices])
    status = np.concatenate([pt[0] for pt in parts]) if parts else np.zeros(0, dtype=int)
    popest = np.concatenate([pt[1] for pt in parts]) if parts else np.zeros(0)
    loglik = np.concatenate([pt[2] for pt in parts]) if parts else np.zeros(0)
    converged = np.concatenate([pt[3] for pt in parts]) if parts else np.zeros(0, dtype=bool)
    n_params = members.sum(axis=1)
    ok = status == 0
    aic = np.where(ok, 2 * n_params - 2 * loglik, np.nan)
    bic = np.where(ok, n_params * math.log(problem.n_obs) - 2 * loglik, np.nan)
    return BatchFits(status, popest, loglik, aic, bic, n_params, converged)


def _smoothed_fit(problem: _Problem, union: np.ndarray) -> np.ndarray:
    """Fitted values of the batch's largest model, interactions kept finite by a ridge.

    A N(0, 10) penalty on the interactions makes the fit exist whatever the
    zeros of the table; it is only a starting point, so any positive table
    close to the data would do.
    """
    X, y = problem.X[:, union], problem.y
    penalty = np.diag(np.where(problem.orders[union] >= 2, 0.1, 0.0))
    mu = y + 0.1
    beta = np.linalg.lstsq(X * np.sqrt(mu)[:, None],
                           np.sqrt(mu) * (np.log(mu) + y / mu - 1.0), rcond=None)[0]
    for _ in range(50):
        mu = np.exp(np.clip(X @ beta, -MAX_ETA, MAX_ETA))
        grad = X.T @ (y - mu) - penalty @ beta
        info = (X * mu[:, None]).T @ X + penalty
        step = np.linalg.lstsq(info, grad, rcond=None)[0]
        beta = beta + step
        if float(grad @ step) < 1e-8:
            break
    return np.exp(np.clip(X @ beta, -MAX_ETA, MAX_ETA))


def _stacked_gram(weights: np.ndarray, outer: np.ndarray, active: np.ndarray) -> np.ndarray:
    """``sum_c w_bc x_c x_c'`` restricted to the active columns, unit diagonal elsewhere."""
    B, p = active.shape
    G = (weights @ outer).reshape(B, p, p)
    G *= active[:, :, None] & active[:, None, :]
    idx = np.arange(p)
    G[:, idx, idx] += ~active
    return G


def _full_rank(X: np.ndarray) -> bool:
    return X.shape[0] >= X.shape[1] and np.linalg.matrix_rank(X) == X.shape[1]


def _rank_deficient(X: np.ndarray, outer: np.ndarray, rows: np.ndarray,
                    active: np.ndarray) -> np.ndarray:
    """Whether each model's design (its rows, its active columns) lacks full column rank.

    Models sharing a row set are grouped; a submatrix of columns of a full-rank
    matrix has full rank, so when the union of a group's columns has full rank
    (the usual case) one SVD settles the whole group. Otherwise the smallest
    eigenvalue of each unit-diagonal Gram matrix decides, with the SVD rank of
    the one-model path for the ambiguous ones.
    """
    deficient = np.zeros(rows.shape[0], dtype=bool)
    for members in _row_groups(rows):
        r = rows[members[0]]
        union = active[members].any(axis=0)
        if _full_rank(X[r][:, union]):
            continue
        G = _stacked_gram(rows[members].astype(float), outer, active[members])
        d = np.sqrt(np.clip(np.einsum("bii->bi", G), 1e-300, None))
        low = np.linalg.eigvalsh(G / (d[:, :, None] * d[:, None, :]))[:, 0]
        deficient[members] = low < 1e-10
        for b in members[(low >= 1e-10) & (low < 1e-6)]:
            deficient[b] = not _full_rank(X[r][:, active[b]])
    return deficient


def _row_groups(rows: np.ndarray) -> list[np.ndarray]:
    """Indices of the models that share each distinct row set."""
    if rows.shape[0] == 0:
        return []
    packed = np.packbits(rows, axis=1)
    keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, group = np.unique(keys, return_inverse=True)
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    return np.split(order, bounds)


def _exists(X: np.ndarray, y: np.ndarray, rows: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Fienberg--Rinaldo existence for each model, with as few linear programs as possible.

    For a fixed set of cells, existence passes to every submodel (a positive
    table with the larger model's margins has the smaller one's too) and
    non-existence to every supermodel (a direction of recession stays one
    when columns are added at zero). Models are taken from the smallest up;
    one known to fail inside it or one known to pass around it settles a model
    without solving its program.
    """
    result = np.zeros(rows.shape[0], dtype=bool)
    weights = 1 << np.arange(active.shape[1], dtype=object)
    for members in _row_groups(rows):
        r = rows[members[0]]
        masks = [int(m) for m in (active[members].astype(object) @ weights)]
        passed: list[int] = []
        failed: list[int] = []
        for k in sorted(range(len(members)), key=lambda i: bin(masks[i]).count("1")):
            m = masks[k]
            if any(m & f == f for f in failed):
                ok = False
            elif any(m & q == m for q in passed):
                ok = True
            else:
                ok = _lp_positive_table_exists(X[r][:, active[members[k]]], y[r])
                (passed if ok else failed).append(m)
            result[members[k]] = ok
    return result


def _fit_chunk(problem: _Problem, members: np.ndarray):
    X, outer, y, zero_term = problem.X, problem.outer, problem.y, problem.zero_term
    B, p = members.shape
    # terms at -inf (zero margin) leave the design and take their cells with them
    dead = members & zero_term[None, :]
    active = members & ~zero_term[None, :]
    kept = (dead.astype(float) @ ((X > 0).T.astype(float))) == 0  # B x cells
    pos = kept & (y > 0)[None, :]

    status = np.zeros(B, dtype=int)
    status[_rank_deficient(X, outer, kept, active)] |= NOT_IDENTIFIABLE
    some_zero = np.flatnonzero(pos.sum(axis=1) < kept.sum(axis=1))
    if some_zero.size:
        needs_lp = some_zero[_rank_deficient(X, outer, pos[some_zero], active[some_zero])]
        status[needs_lp[~_exists(X, y, kept[needs_lp], active[needs_lp])]] |= NOT_EXISTING

    popest = np.full(B, np.nan)
    loglik = np.full(B, np.nan)
    conv = np.zeros(B, dtype=bool)
    good = np.flatnonzero(status == 0)
    if good.size:
        beta, c = _newton(X, outer, y, active[good], kept[good].astype(float),
                          problem.start_mu)
        eta = np.clip(beta @ X.T, -MAX_ETA, MAX_ETA)
        mu = np.exp(eta) * kept[good]
        ylogmu = np.where(y[None, :] > 0, y[None, :] * eta, 0.0)
        loglik[good] = (ylogmu - mu).sum(axis=1) - problem.lgamma_sum
        popest[good] = problem.n_obs + np.exp(beta[:, 0])
        conv[good] = c
        bad = ~np.isfinite(beta[:, 0])
        status[good[bad]] |= NOT_IDENTIFIABLE
    return status, popest, loglik, conv


def _kernel(beta, X, y, w):
    eta = np.clip(beta @ X.T, -MAX_ETA, MAX_ETA)
    return (w * (y[None, :] * eta - np.exp(eta))).sum(axis=1)


def _newton(X, outer, y, active, w, start_mu):
    """Batched Newton--Raphson for the Poisson log-linear fits (weights ``w`` 0/1 per cell).

    The start is one weighted least-squares step from the fitted values
    ``start_mu`` (R's ``glm`` takes ``y + 0.1``; a smoothed fit of the largest
    model is closer to every model of the batch and saves two iterations).
    """
    B, p = active.shape
    mask = active.astype(float)
    pair_mask = (active[:, :, None] & active[:, None, :]).reshape(B, p * p)
    mu0 = start_mu[None, :] * w
    z = np.log(start_mu) + y / start_mu - 1.0
    G = _stacked_gram(mu0, outer, active)
    rhs = ((mu0 * z[None, :]) @ X) * mask
    beta = _solve(G, rhs)
    ll = _kernel(beta, X, y, w)
    done = np.zeros(B, dtype=bool)
    converged = np.zeros(B, dtype=bool)
    idx = np.arange(p)
    for _ in range(_MAX_ITER):
        todo = np.flatnonzero(~done)
        if todo.size == 0:
            break
        bt, wt, mt = beta[todo], w[todo], mask[todo]
        mu = np.exp(np.clip(bt @ X.T, -MAX_ETA, MAX_ETA)) * wt
        grad = ((wt * y[None, :] - mu) @ X) * mt
        info = mu @ outer
        info *= pair_mask[todo]
        info = info.reshape(-1, p, p)
        info[:, idx, idx] += 1.0 - mt
        step = _solve(info, grad)
        finite = np.all(np.isfinite(step), axis=1)
        t = np.ones(todo.size)
        cand = bt + step
        ll_new = _kernel(cand, X, y, wt)
        ll_old = ll[todo]
        for _ in range(40):
            worse = ~(ll_new >= ll_old - 1e-12 * np.maximum(1.0, np.abs(ll_old))) & finite
            if not worse.any():
                break
            t[worse] *= 0.5
            cand[worse] = bt[worse] + t[worse, None] * step[worse]
            ll_new[worse] = _kernel(cand[worse], X, y, wt[worse])
        stuck = ~finite | ~(ll_new >= ll_old - 1e-12 * np.maximum(1.0, np.abs(ll_old)))
        move = ~stuck
        change = ll_new - ll_old
        beta[todo[move]] = cand[move]
        ll[todo[move]] = ll_new[move]
        # the Newton decrement g' I^-1 g bounds what a full step can still gain: once a
        # full step was taken from a point within 1e-10 of the maximum, the fit is exact
        # to rounding (quadratic convergence), so no confirming iteration is needed
        decrement = np.einsum("bi,bi->b", grad, step)
        small = ((np.abs(change) <= _LL_TOL * (np.abs(ll_new) + 0.1)) & (
            np.max(np.abs(t[:, None] * step), axis=1) < _STEP_TOL)) | (
            (t == 1.0) & (decrement < _DECREMENT_TOL))
        finished = move & small
        done[todo[finished | stuck]] = True
        converged[todo[finished]] = True
    return beta * mask, converged


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Stacked ``A x = b``; ``nan`` rows where a matrix is singular."""
    try:
        return np.linalg.solve(A, b[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        x = np.full_like(b, np.nan)
        for i in range(A.shape[0]):
            with contextlib.suppress(np.linalg.LinAlgError):
                x[i] = np.linalg.solve(A[i], b[i])
        return x
