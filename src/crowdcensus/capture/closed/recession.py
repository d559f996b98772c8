"""Does the abundance of a log-linear fit exist? Directions of recession.

For a Poisson log-linear model ``log mu = X beta`` with counts ``y``, the
log-likelihood never decreases along a direction ``d`` with

    X_i d = 0  for every cell with y_i > 0,    X_i d <= 0  for every empty cell,

and increases strictly when some ``X_i d < 0``: the maximum then lies at infinity,
and the fitted means of those empty cells go to 0 (R's warning "fitted rates
numerically 0"). Haberman (1974) and Geyer (2009) call such a ``d`` a direction of
recession; the set of them is a polyhedral cone, found here by linear programming.

What matters for capture--recapture is the never-seen history, with covariates
``x0``: its expected count ``exp(x0' beta)`` is the number of unseen individuals.
Along a direction with ``x0' d < 0`` it goes to 0 (the abundance falls to ``n``,
the number caught, at no cost in likelihood); with ``x0' d > 0`` it grows without
bound. In both cases the data do not determine the abundance. Directions with
``x0' d = 0`` (an occasion on which nobody was caught, nobody recaptured under Mb)
leave it determined, as a limit: the model's fit still rests on rates of exactly 0.

References
----------
Haberman, S. J. (1974). *The Analysis of Frequency Data*. University of Chicago Press.
Geyer, C. J. (2009). Likelihood inference in exponential families and directions of
recession. *Electronic Journal of Statistics* 3, 259-289.
Fienberg, S. E. & Rinaldo, A. (2012). Maximum likelihood estimation in log-linear
models. *Annals of Statistics* 40, 996-1023.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix, hstack, vstack

#: Smallest ``|x0' d|`` (for ``|d| <= 1`` on scaled columns) taken as a real direction.
TOL = 1e-7


def _unit_rows(A):
    """Scale the rows of a dense or sparse matrix to a unit largest entry."""
    if hasattr(A, "multiply"):
        m = np.asarray(abs(A).max(axis=1).todense()).ravel()
        m[m == 0] = 1.0
        return csr_matrix(A.multiply(1.0 / m[:, None]))
    m = np.abs(A).max(axis=1)
    m[m == 0] = 1.0
    return A / m[:, None]


def _extremes(c, A_eq, A_ub, bounds, confirm) -> tuple[float, float]:
    """Min and max of ``c' z`` over ``A_eq z = 0, A_ub z <= 0`` within ``bounds``.

    Each optimum goes through ``confirm(z)``, which returns the value of a direction
    checked on the unscaled constraints to a tighter tolerance than the solver's
    (0 when it fails), so that a solver tolerance never makes a direction up.
    """
    out = []
    for sign in (1.0, -1.0):
        res = linprog(sign * c, A_ub=A_ub, b_ub=np.zeros(A_ub.shape[0]),
                      A_eq=A_eq, b_eq=None if A_eq is None else np.zeros(A_eq.shape[0]),
                      bounds=bounds, method="highs")
        value = sign * res.fun if res.status == 0 else 0.0
        out.append(confirm(res.x) if abs(value) > TOL else 0.0)
    return out[0], out[1]


def _project(E: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``d`` moved onto the null space of ``E`` (removes the solver's residual)."""
    if E.shape[0] == 0:
        return d
    return d - np.linalg.lstsq(E, E @ d, rcond=None)[0]


def _classify(lo: float, hi: float) -> str | None:
    if hi > TOL:
        return "inf"
    if lo < -TOL:
        return "n"
    return None


def abundance_direction(X: np.ndarray, y: np.ndarray, x0: np.ndarray | None) -> str | None:
    """Where the likelihood's supremum lies, for the abundance.

    ``"inf"`` if the likelihood rises towards an infinite abundance; ``"n"`` if towards
    no unseen individual (or it leaves that count free); ``"zero"`` if it lies at
    infinity but leaves the unseen count alone (some fitted rates go to 0, the
    abundance is determined); ``None`` if the maximum is finite.

    Parameters
    ----------
    X : ndarray (cells, p)
        Design of the observable cells (grouped cells are fine: a group's offset does
        not change the cone).
    y : ndarray (cells,)
    x0 : ndarray (p,) or None
        Covariates of the never-seen history; ``None`` when the model's abundance is
        not ``n + exp(x0' b)`` (Mb, Mbh): only ``"zero"`` or ``None`` is then told.
    """
    X = np.asarray(X, dtype=float)
    pos = np.asarray(y) > 0
    if not np.any(~pos):
        return None  # no empty cell: nothing can recede
    scale = np.abs(X[pos]).max(axis=0) if pos.any() else np.abs(X).max(axis=0)
    scale = np.where(scale > 0, scale, np.abs(X).max(axis=0))
    scale[scale == 0] = 1.0
    Xs = X / scale
    A_eq = _unit_rows(Xs[pos]) if pos.any() else None
    A_ub = _unit_rows(Xs[~pos])
    bounds = [(-1.0, 1.0)] * X.shape[1]

    def confirmed(objective: np.ndarray):
        def confirm(d: np.ndarray) -> float:
            d = _project(Xs[pos], d)
            norm = max(np.max(np.abs(d)), 1e-300)
            if np.max(Xs[~pos] @ d) > 1e-9 * norm:
                return 0.0
            return float(objective @ d / norm)
        return confirm

    if x0 is not None:
        x0s = np.asarray(x0, dtype=float) / scale
        found = _classify(*_extremes(x0s, A_eq, A_ub, bounds, confirmed(x0s)))
        if found is not None:
            return found
    # any direction at all: the empty cells' linear predictors can all fall together
    down = -A_ub.sum(axis=0)
    _, most = _extremes(down, A_eq, A_ub, bounds, confirmed(down))
    return "zero" if most > TOL else None


def time_effects_direction(
    histories: np.ndarray, H: np.ndarray, x0_h: np.ndarray
) -> str | None:
    """As :func:`abundance_direction` for Mt/Mth without the ``2**t`` table.

    The cells are all histories ``w``, with covariates ``(1, w, h(|w|))``. The
    constraint "``X_w d <= 0`` for every history with ``k`` captures" reads
    ``d0 + S_k(db) + h(k)' dg <= 0`` with ``S_k`` the sum of the ``k`` largest time
    effects ``db``; ``S_k(db) <= k u_k + sum_j v_kj`` with ``v_kj >= db_j - u_k``,
    ``v_kj >= 0`` makes it linear (the usual form of a sum of largest entries).

    Parameters
    ----------
    histories : ndarray (m, t)
        The distinct observed histories (0/1).
    H : ndarray (t + 1, q)
        Heterogeneity columns for ``k = 0..t``.
    x0_h : ndarray (q,)
        ``h(0)`` (the never-seen history's heterogeneity covariates).
    """
    W = np.asarray(histories, dtype=float)
    m, t = W.shape
    q = H.shape[1]
    hscale = np.abs(H[1:]).max(axis=0) if q else np.ones(0)
    hscale[hscale == 0] = 1.0
    Hs = H / hscale
    k_obs = W.sum(axis=1).astype(int)
    # variables: d0, db (t), dg (q), u (t), v (t*t)
    p = 1 + t + q
    nv = p + t + t * t
    eq = np.column_stack([np.ones(m), W, Hs[k_obs]])
    A_eq = csr_matrix(np.hstack([_unit_rows(eq), np.zeros((m, t + t * t))]))
    ks = np.arange(1, t + 1)
    # d0 + h(k)'dg + k u_k + sum_j v_kj <= 0
    rows_k = hstack([
        csr_matrix(np.column_stack([np.ones(t), np.zeros((t, t)), Hs[1:]])),
        csr_matrix(np.diag(ks.astype(float))),
        csr_matrix(np.kron(np.eye(t), np.ones((1, t)))),
    ])
    # db_j - u_k - v_kj <= 0 for every k, j
    rows_v = hstack([
        csr_matrix((t * t, 1)),
        csr_matrix(np.tile(np.eye(t), (t, 1))),
        csr_matrix((t * t, q)),
        csr_matrix(-np.kron(np.eye(t), np.ones((t, 1)))),
        -csr_matrix(np.eye(t * t)),
    ])
    A_ub = vstack([_unit_rows(rows_k.tocsr()), rows_v]).tocsr()
    bounds = [(-1.0, 1.0)] * p + [(-1.0, 1.0)] * t + [(0.0, 2.0)] * (t * t)
    c = np.zeros(nv)
    c[0] = 1.0  # x0 = (1, 0, h(0)); h(0) = 0 for every heterogeneity form here
    c[1 + t : p] = np.asarray(x0_h, dtype=float) / hscale

    def confirm(z: np.ndarray) -> float:
        d = _project(eq, z[:p])
        norm = max(np.max(np.abs(d)), 1e-300)
        d0, db, dg = d[0], d[1 : t + 1], d[1 + t :]
        top = np.cumsum(np.sort(db)[::-1])  # S_k for k = 1..t
        if np.max(d0 + top + Hs[1:] @ dg) > 1e-9 * norm:
            return 0.0
        return float(c[:p] @ d / norm)

    lo, hi = _extremes(c, A_eq, A_ub, bounds, confirm)
    return _classify(lo, hi)
