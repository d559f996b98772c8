"""Poisson log-linear regression on grouped cells, by iteratively reweighted least squares.

Every capture--recapture model of this package that is log-linear in the
capture histories is fitted here. Cells that share a covariate row are grouped:
a group ``g`` of ``m_g`` histories with total count ``y_g`` is a single Poisson
observation with mean ``m_g * exp(x_g' beta)``, i.e. ``log m_g`` enters as an
offset. That is what lets a model of 52 occasions be fitted without
enumerating ``2**52`` histories when its covariates only depend on, say, the
number of captures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_ETA = 700.0  # exp() overflows past ~709
#: A fit has converged when the Newton decrement is below this times (|log-lik| + 1).
DECREMENT_TOL = 1e-19
#: A start whose expected counts total more than this times the observed total is absurd.
ABSURD = 1e6

_lgamma = np.frompyfunc(math.lgamma, 1, 1)


def gammaln(x: np.ndarray | float) -> np.ndarray | float:
    """``log |Gamma(x)|`` elementwise (the standard library's ``lgamma``, vectorised).

    Used for the ``log y!`` constants of Poisson likelihoods; it saves the closed
    models from importing :mod:`scipy.special` (a large share of the command's
    start-up time) for a function the standard library has.

    >>> round(gammaln(5.0), 6), gammaln(np.array([1.0, 11.0])).round(4).tolist()
    (3.178054, [0.0, 15.1044])
    """
    if np.ndim(x) == 0:
        return math.lgamma(float(x))
    return _lgamma(np.asarray(x, dtype=float)).astype(float)


@dataclass(frozen=True)
class PoissonFit:
    """Result of :func:`fit_poisson`.

    Attributes
    ----------
    coef : ndarray
        Estimated coefficients (``nan`` for columns dropped as aliased).
    cov : ndarray
        Inverse Fisher information (``nan`` rows/columns for aliased columns).
    fitted : ndarray
        Fitted group means ``m_g * exp(x_g' beta)``.
    converged : bool
    iterations : int
    rank : int
        Number of estimable coefficients.
    """

    coef: np.ndarray
    cov: np.ndarray
    fitted: np.ndarray
    converged: bool
    iterations: int
    rank: int


def _independent_columns(X: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Indices of a maximal set of linearly independent columns (pivoted QR, keeping order)."""
    if X.shape[1] == 0:
        return np.arange(0)
    keep: list[int] = []
    basis = np.zeros((X.shape[0], 0))
    scale = max(1.0, float(np.abs(X).max()))
    for j in range(X.shape[1]):
        col = X[:, j]
        if basis.shape[1]:
            resid = col - basis @ (basis.T @ col)
        else:
            resid = col.astype(float)
        norm = np.linalg.norm(resid)
        if norm > tol * scale * max(1.0, np.sqrt(X.shape[0])):
            keep.append(j)
            basis = np.column_stack([basis, resid / norm])
    return np.asarray(keep, dtype=int)


def newton_step(info: np.ndarray, grad: np.ndarray, damping: float = 0.0) -> np.ndarray:
    """Solve ``info @ step = grad`` with unit-diagonal (Jacobi) scaling.

    Log-linear information matrices mix parameters whose information differs
    by many orders of magnitude (an eta for 40 captures next to the intercept);
    scaling first keeps the solve accurate. ``damping`` adds a
    Levenberg--Marquardt term ``damping * diag(info)``.
    """
    d = np.sqrt(np.clip(np.diag(info), 1e-300, None))
    scaled = info / np.outer(d, d)
    if damping:
        scaled = scaled + damping * np.eye(len(d))
    rhs = grad / d
    try:
        step = np.linalg.solve(scaled, rhs)
    except np.linalg.LinAlgError:
        step = np.linalg.lstsq(scaled, rhs, rcond=1e-12)[0]
    return step / d


def _logsumexp(x: np.ndarray) -> float:
    top = float(np.max(x))
    return top + math.log(float(np.sum(np.exp(x - top)))) if math.isfinite(top) else top


def _total_mean(X: np.ndarray, off: np.ndarray, beta: np.ndarray) -> float:
    eta = off + X @ beta
    return math.exp(min(_logsumexp(eta), MAX_ETA))


def _flat_start(X: np.ndarray, y: np.ndarray, off: np.ndarray) -> np.ndarray:
    """All coefficients 0 but the constant column's, set so that the means sum to ``y``."""
    beta = np.zeros(X.shape[1])
    const = [j for j in range(X.shape[1]) if np.ptp(X[:, j]) == 0 and X[0, j] != 0]
    total = y.sum()
    if const and total > 0:
        j = const[0]
        beta[j] = (math.log(total) - _logsumexp(off)) / X[0, j]
    return beta


def poisson_loglik_kernel(y: np.ndarray, fitted: np.ndarray) -> float:
    """``sum(y log(fitted) - fitted)`` with ``0 log 0 = 0``."""
    pos = y > 0
    return float(np.sum(y[pos] * np.log(fitted[pos])) - np.sum(fitted))


def fit_poisson(
    X: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-11,
    start: np.ndarray | None = None,
) -> PoissonFit:
    """Maximum-likelihood Poisson regression ``E[y] = exp(offset + X beta)``.

    IRLS (Newton--Raphson for the canonical link) with step halving when the
    likelihood does not increase. Aliased columns are detected up front and
    reported as ``nan`` (as R's ``glm`` does with ``NA``).

    Parameters
    ----------
    X : ndarray (G, p)
    y : ndarray (G,)
        Non-negative counts.
    offset : ndarray (G,), optional
        Log-multiplicities of the groups.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    G, p = X.shape
    off = np.zeros(G) if offset is None else np.asarray(offset, dtype=float)
    # columns are scaled to a unit maximum for the numerics (2**k grows fast)
    scale = np.abs(X).max(axis=0) if G else np.ones(p)
    scale[scale == 0] = 1.0
    X = X / scale
    cols = _independent_columns(X)
    Xk = X[:, cols]
    k = len(cols)

    # R's glm start: one weighted least-squares step from mu = y + 0.1
    mu0 = y + 0.1
    z = np.log(mu0) - off + (y - mu0) / mu0
    xtw = (Xk * mu0[:, None]).T
    try:
        beta = np.linalg.solve(xtw @ Xk, xtw @ z)
    except np.linalg.LinAlgError:
        beta = np.linalg.lstsq(xtw @ Xk, xtw @ z, rcond=None)[0]

    def loglik(b: np.ndarray) -> float:
        # no clipping: a point whose means overflow has log-likelihood -inf and is refused
        eta = off + Xk @ b
        if not np.all(eta <= MAX_ETA):
            return -np.inf
        return poisson_loglik_kernel(y, np.exp(eta))

    # R's start is kept -- its path is glm's, which matters where the maximum lies at
    # infinity and the signs of diverging coefficients depend on the path (Chao's
    # etas) -- unless its expected counts are absurd, as when empty cells sit where a
    # column is huge (2**k at k = 52): Newton would then take hundreds of steps, each
    # one unit down an exponential. The flat start (every coefficient 0 but an
    # intercept matching the total count) replaces it then. A warm start is used when
    # it is likelier than either.
    if not np.isfinite(loglik(beta)) or _total_mean(Xk, off, beta) > ABSURD * (y.sum() + 1):
        beta = _flat_start(Xk, y, off)
    if start is not None:
        warm = np.where(np.isfinite(start), start, 0.0)[cols] * scale[cols]
        if loglik(warm) >= loglik(beta):
            beta = warm
    ll = loglik(beta)
    converged = False
    it = 0
    for _ in range(max_iter):
        it += 1
        mu = np.exp(np.clip(off + Xk @ beta, -MAX_ETA, MAX_ETA))
        grad = Xk.T @ (y - mu)
        info = (Xk * mu[:, None]).T @ Xk
        step = newton_step(info, grad)
        decrement = float(grad @ step)
        for damping in (1e-10, 1e-6, 1e-2, 1.0):
            if decrement >= 0:
                break
            # a nearly singular information solved into garbage: damp it
            step = newton_step(info, grad, damping)
            decrement = float(grad @ step)
        if not (np.all(np.isfinite(step)) and decrement >= 0):
            break
        # Newton decrement: the log-likelihood a full step would still gain (about half of it)
        if decrement <= DECREMENT_TOL * (abs(ll) + 1.0):
            converged = True
            break
        t = 1.0
        for _ in range(40):
            cand = beta + t * step
            ll_new = loglik(cand)
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * max(1.0, abs(ll)):
                break
            t *= 0.5
        else:
            break
        change = ll_new - ll
        beta, ll = cand, ll_new
        if abs(change) <= tol * (abs(ll) + 0.1) and np.max(np.abs(t * step)) < 1e-6:
            converged = True
            break
    eta = np.clip(off + Xk @ beta, -MAX_ETA, MAX_ETA)
    mu = np.exp(eta)
    info = (Xk * mu[:, None]).T @ Xk
    try:
        cov_k = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov_k = np.linalg.pinv(info)
    coef = np.full(p, np.nan)
    coef[cols] = beta / scale[cols]
    cov = np.full((p, p), np.nan)
    cov[np.ix_(cols, cols)] = cov_k / np.outer(scale[cols], scale[cols])
    return PoissonFit(coef, cov, mu, converged, it, k)
