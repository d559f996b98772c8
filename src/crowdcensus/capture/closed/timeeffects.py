"""Mt and Mth for many occasions, without the ``2**t`` table.

Under Mt/Mth the expected count of history ``w`` with ``k`` captures is::

    mu_w = exp(b0 + sum_j b_j w_j + gamma' h(k))

The sufficient statistics are the ``n_j`` (caught on occasion ``j``) and the
``f_k`` (caught ``k`` times). Summing ``mu_w`` over the ``C(t, k)`` histories with
``k`` captures gives ``exp(b0 + gamma' h(k)) e_k(x)`` where ``x_j = exp(b_j)`` and
``e_k`` is the elementary symmetric polynomial of degree ``k`` -- the coefficients
of ``prod_j (1 + x_j z)``. The score and the Fisher information follow from the
same polynomials with one or two factors left out, so a Newton fit costs
``O(t**3)`` per iteration instead of ``O(2**t)``. It gives the same estimates as the
full-table Poisson regression (checked in the tests).
"""

from __future__ import annotations

import math

import numpy as np

from crowdcensus.capture.closed.design import heterogeneity_columns, split_name
from crowdcensus.capture.closed.loglinear import ETA_ZERO, LogLinearFit
from crowdcensus.capture.glm import DECREMENT_TOL, MAX_ETA, fit_poisson, gammaln, newton_step
from crowdcensus.capture.histories import CaptureHistories


def _poly(x: np.ndarray) -> np.ndarray:
    out = np.ones(1)
    for v in x:
        out = np.convolve(out, [1.0, v])
    return out


def _prefix_suffix(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients of ``prod_{l<i} (1 + x_l z)`` (row ``i``) and ``prod_{l>=j} (1 + x_l z)``
    (row ``j``), ``i, j = 0..t``, zero-padded to ``t + 1`` columns."""
    t = len(x)
    pre = np.zeros((t + 1, t + 1))
    suf = np.zeros((t + 1, t + 1))
    pre[0, 0] = suf[t, 0] = 1.0
    for i in range(t):
        pre[i + 1] = pre[i]
        pre[i + 1, 1:] += x[i] * pre[i, :-1]
    for j in range(t - 1, -1, -1):
        suf[j] = suf[j + 1]
        suf[j, 1:] += x[j] * suf[j + 1, :-1]
    return pre, suf


def _leave_out_sums(x: np.ndarray, v: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums of elementary symmetric polynomials with one or two factors left out.

    Returns ``A`` (t, q) with ``A[j] = sum_m e_m(x without x_j) w[m]`` for each column of
    ``w`` (t, q), and ``B`` (t, t) with ``B[i, j] = sum_m e_m(x without x_i, x_j) v[m]``
    (``v`` of length t - 1). All terms are positive: no cancellation. ``O(t**3)`` in
    matrix products: the pair sums use ``<P * Q, v> = P . (Hankel(v) Q)`` with the
    products of the factors between ``i`` and ``j`` built up one occasion at a time.
    """
    t = len(x)
    pre, suf = _prefix_suffix(x)
    size = t + 1
    idx = np.arange(size)[:, None] + np.arange(size)[None, :]
    # one factor left out: e(x without x_j) = pre[j] * suf[j + 1] (degree t - 1)
    one = np.zeros((t, size))
    for a in range(t):
        one[:, a:] += pre[:t, a : a + 1] * suf[1:, : size - a]
    A = one[:, :t] @ w
    B = np.zeros((t, t))
    if t < 2:
        return A, B
    vpad = np.zeros(2 * size)
    vpad[: len(v)] = v
    W = suf[1:] @ vpad[idx].T  # W[j, a] = sum_b suf[j + 1, b] v[a + b]
    R = np.zeros((t, size))  # R[i] = pre[i] * prod_{i<l<j} (1 + x_l z)
    for j in range(t):
        if j:
            B[:j, j] = R[:j] @ W[j]
            R[:j, 1:] += x[j] * R[:j, :-1].copy()
        R[j] = pre[j]
    return A, B + B.T


#: Smallest eigenvalue of the unit-diagonal information below which the linear program of
#: :mod:`.recession` is run (well-determined fits are far above it).
RECESSION_EIGEN = 1e-8


class TimeEffectsDesign:
    """Mt or Mth on sufficient statistics. ``fit()`` returns a :class:`LogLinearFit`."""

    def __init__(self, model: str, data: CaptureHistories) -> None:
        base, het = split_name(model)
        self.model = model
        self.t = t = data.t
        self.n_captured = data.n_captured
        self.nj = data.per_occasion().astype(float)
        self.F = data.capture_frequencies().astype(float)
        self.y = self.F  # sum is n, used by the deviance
        self.total = float(self.F.sum())  # the number caught (more with added counts)
        ks = np.arange(0, t + 1, dtype=float)
        if het is None:
            self.H = np.zeros((t + 1, 0))
            hn: list[str] = []
        else:
            self.H, hn = heterogeneity_columns(het, ks, t)
        # heterogeneity columns scaled to a unit maximum for the numerics (2**k is huge)
        self.hscale = np.abs(self.H).max(axis=0) if self.H.size else np.ones(0)
        self.hscale[self.hscale == 0] = 1.0
        self.H = self.H / self.hscale
        self.hnames = list(hn)
        self.names = ["(Intercept)", *data.occasions, *hn]
        c = data.counts[data.counts > 0].astype(float)
        self.saturated_ylogy = float(np.sum(c * np.log(c)))
        self.lgamma_sum = float(np.sum(gammaln(c + 1)))
        self.n_cells = 2**t - 1
        self.constrained_names = [nm for nm in hn if nm.startswith("eta")]
        self.active = list(range(self.H.shape[1]))
        self._start: np.ndarray | None = None
        self.observed = data.histories[data.counts > 0]

    def with_added_counts(self, delta: dict[int, float]) -> TimeEffectsDesign:
        """A copy in which every history with ``k`` captures has ``delta[k]`` more
        individuals (Rcapture's bias correction, :mod:`.bias_corrected`); the number
        caught stays the observed one. ``delta[1]`` must be positive (then a single
        history per other ``k`` fixes the directions of recession, see
        :mod:`.recession`)."""
        import copy

        from scipy.special import comb

        out = copy.copy(self)
        out.F = self.F.copy()
        out.nj = self.nj.copy()
        extra = [np.eye(self.t, dtype=self.observed.dtype)]
        for k, d in delta.items():
            out.F[k - 1] += d * comb(self.t, k)
            out.nj += d * comb(self.t - 1, k - 1)
            if k > 1 and d > 0:
                row = np.zeros((1, self.t), dtype=self.observed.dtype)
                row[0, :k] = 1
                extra.append(row)
        out.y = out.F
        out.total = float(out.F.sum())
        out.observed = np.vstack([self.observed, *extra])
        out.active = list(self.active)
        out._start = None
        return out

    # --- likelihood pieces -------------------------------------------------------------
    def _pieces(self, theta: np.ndarray, y0: float | None):
        t = self.t
        b0, b, g = theta[0], theta[1 : t + 1], theta[t + 1 :]
        H = self.H[:, self.active]
        c = np.exp(np.clip(b0 + H @ g, -700, 700))
        if y0 is None:
            c[0] = 0.0
        return b0, b, g, H, c

    def loglik(self, theta: np.ndarray, y0: float | None = None) -> float:
        """Poisson log-likelihood kernel; ``-inf`` where the means overflow (never clipped)."""
        t = self.t
        b0, b, g = theta[0], theta[1 : t + 1], theta[t + 1 :]
        H = self.H[:, self.active]
        eta = b0 + H @ g
        if not (np.all(eta <= MAX_ETA) and np.all(b <= MAX_ETA)):
            return -math.inf
        with np.errstate(over="ignore", invalid="ignore"):
            c = np.exp(eta)
            if y0 is None:
                c[0] = 0.0
            E = _poly(np.exp(b))
            lin = b0 * (self.total + (y0 or 0.0)) + b @ self.nj + g @ (H[1:].T @ self.F)
            value = float(lin - c @ E)
        return value if math.isfinite(value) else -math.inf

    def _score_info(self, theta: np.ndarray, y0: float | None):
        t = self.t
        b0, b, g, H, c = self._pieces(theta, y0)
        x = np.exp(b)
        E = _poly(x)
        cH = c[:, None] * H
        one, two = _leave_out_sums(x, c[2:], np.column_stack([c[1:], cH[1:]]))
        S = c @ E
        T = x * one[:, 0]
        q = H.shape[1]
        grad = np.empty(1 + t + q)
        grad[0] = self.total + (y0 or 0.0) - S
        grad[1 : t + 1] = self.nj - T
        grad[t + 1 :] = H[1:].T @ self.F - cH.T @ E
        info = np.empty((1 + t + q, 1 + t + q))
        info[0, 0] = S
        info[0, 1 : t + 1] = info[1 : t + 1, 0] = T
        info[0, t + 1 :] = info[t + 1 :, 0] = cH.T @ E
        pair = np.outer(x, x) * two
        np.fill_diagonal(pair, T)
        info[1 : t + 1, 1 : t + 1] = pair
        tj = x[:, None] * one[:, 1:]
        info[1 : t + 1, t + 1 :] = tj
        info[t + 1 :, 1 : t + 1] = tj.T
        info[t + 1 :, t + 1 :] = (H * c[:, None]).T @ (H * E[:, None])
        return grad, info

    def _initial(self) -> np.ndarray:
        n, F = self.n_captured, self.F
        n0 = F[0] ** 2 / (2 * max(F[1], 1.0)) if len(F) > 1 else float(n)
        N0 = n + max(n0, 1.0)
        p = np.clip(self.nj / N0, 1e-4, 0.99)
        b0 = math.log(N0) + np.sum(np.log1p(-p))
        return np.concatenate([[b0], np.log(p / (1 - p)), np.zeros(len(self.active))])

    def _newton(self, y0: float | None, max_iter: int = 200):
        """Newton--Raphson with step halving (and Levenberg--Marquardt damping if needed).

        A warm start (``self._start``) is used only when its likelihood is at least that
        of the default start. Convergence: the Newton decrement ``g' I^{-1} g`` (about
        twice the log-likelihood a full step would still gain) is negligible -- which
        also ends fits whose maximum lies at infinity (an occasion nobody was caught
        on), where the parameters keep drifting while the likelihood has converged.
        """
        theta = self._initial()
        ll = self.loglik(theta, y0)
        warm = -math.inf
        if self._start is not None and len(self._start) == len(theta):
            warm = self.loglik(self._start, y0)
            if warm >= ll:
                theta, ll = self._start.copy(), warm
        if warm < ll and self.active:
            # no usable warm start (removing an eta can leave its neighbours unchecked):
            # a flat start is hopeless with many etas, start near the observed f_k again
            fresh = self._best_start(y0)
            if fresh is not None and self.loglik(fresh, y0) > ll:
                theta, ll = fresh, self.loglik(fresh, y0)
        converged = False
        for _ in range(max_iter):
            grad, info = self._score_info(theta, y0)
            if not (np.all(np.isfinite(info)) and np.all(np.isfinite(grad))):
                break
            full = newton_step(info, grad)
            decrement = float(grad @ full)
            if np.isfinite(decrement) and 0 <= decrement <= DECREMENT_TOL * (abs(ll) + 1.0):
                converged = True
                break
            accepted = False
            for damping in (0.0, 1e-6, 1e-3, 1.0, 1e3):
                step = full if damping == 0.0 else newton_step(info, grad, damping)
                s = 1.0
                for _ in range(30):
                    cand = theta + s * step
                    new = self.loglik(cand, y0)
                    if np.isfinite(new) and new >= ll - 1e-12 * abs(ll):
                        accepted = True
                        break
                    s *= 0.5
                if accepted:
                    break
            if not accepted:
                # no direction improves: converged if the Newton decrement is negligible
                converged = bool(0 <= decrement < 1e-6)
                break
            change = new - ll
            theta, ll = cand, new
            if abs(change) <= 1e-11 * (abs(ll) + 0.1) and np.max(np.abs(s * step)) < 1e-7:
                converged = True
                break
        return theta, ll, converged

    def _heterogeneity_start(self, y0: float | None) -> np.ndarray | None:
        """Starting values for Mth: Mt's time effects, then the heterogeneity terms that
        reproduce the observed ``f_k`` as closely as a least-squares fit on the log scale
        allows. Without it, the first Newton steps for etas of high ``k`` (almost no
        expected count at a flat start) are huge."""
        active = self.active
        self.active = []
        try:
            theta, _, _ = self._newton(y0)
        finally:
            self.active = active
        b = theta[1 : self.t + 1]
        E = _poly(np.exp(b))
        ks = np.arange(1, self.t + 1)
        seen = self.F > 0
        if seen.sum() < 2:
            return None
        target = np.log(self.F[seen]) - np.log(E[1:][seen])
        X = np.column_stack([np.ones(seen.sum()), ks[seen], self.H[1:][seen][:, active]])
        coef = np.linalg.lstsq(X, target, rcond=None)[0]
        if not np.all(np.isfinite(coef)):
            return None
        start = np.concatenate([[coef[0]], b + coef[1], coef[2:]])
        return start if np.isfinite(self.loglik(start, y0)) else None

    def _mh_start(self) -> np.ndarray | None:
        """Starting values for Mth from the Mh model with the same heterogeneity terms,
        fitted on the ``f_k`` alone, plus ``log(n_j / mean n_j)`` as time effects."""
        if not self.active:
            return None
        ks = np.arange(1, self.t + 1, dtype=float)
        X = np.column_stack([np.ones(self.t), ks, self.H[1:][:, self.active]])
        off = gammaln(self.t + 1) - gammaln(ks + 1) - gammaln(self.t - ks + 1)
        pf = fit_poisson(X, self.F, off)
        if not np.all(np.isfinite(pf.coef)):
            return None
        nj = np.maximum(self.nj, 0.5)
        b = pf.coef[1] + np.log(nj / nj.mean())
        return np.concatenate([[pf.coef[0]], b, pf.coef[2:]])

    def _best_start(self, y0: float | None) -> np.ndarray | None:
        """The starting point with the highest likelihood among the candidates."""
        best, best_ll = None, -math.inf
        for make in (lambda: self._heterogeneity_start(y0), self._mh_start):
            try:
                cand = make()
            except (np.linalg.LinAlgError, FloatingPointError):
                cand = None
            if cand is None:
                continue
            ll = self.loglik(cand, y0)
            if ll > best_ll:
                best, best_ll = cand, ll
        return best

    def fit(self, y0: float | None = None) -> LogLinearFit:
        """Fit (Chao etas kept >= 0 by removal, as in the full-table fit: see
        :func:`.loglinear.fit_design`)."""
        kmax = int(np.nonzero(self.F)[0].max()) + 1 if self.F.any() else 0
        # etas acting only above the largest observed count: 0 is their constrained maximum
        dead = {a for a in range(self.H.shape[1])
                if self.hnames[a].startswith("eta") and not np.any(self.H[1 : kmax + 1, a])}
        self.active = list(range(self.H.shape[1]))
        removed: list[str] = []
        if y0 is not None and self._start is not None:
            self._start = None
        while True:
            theta, ll, converged = self._newton(y0)
            g = theta[self.t + 1 :]
            neg = [i for i, a in enumerate(self.active)
                   if self.hnames[a].startswith("eta") and g[i] < ETA_ZERO]
            drop = neg[:1] or [i for i, a in enumerate(self.active) if a in dead]
            if not drop:
                break
            removed += [self.hnames[self.active[i]] for i in drop]
            self.active = [a for i, a in enumerate(self.active) if i not in drop]
            self._start = np.delete(theta, [self.t + 1 + i for i in drop])
        _, info = self._score_info(theta, y0)
        try:
            cov = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            cov = np.linalg.pinv(info)
        unscale = np.concatenate([np.ones(1 + self.t), self.hscale[self.active]])
        coef = theta / unscale
        cov = cov / np.outer(unscale, unscale)
        if y0 is None:
            self._start = theta
        n0 = math.exp(min(theta[0], 700.0))
        names = ["(Intercept)", *self.names[1 : self.t + 1],
                 *[self.hnames[a] for a in self.active]]
        _, _, _, _, c = self._pieces(theta, y0)
        fitted = c * _poly(np.exp(theta[1 : self.t + 1]))
        return LogLinearFit(
            coef=coef, cov=cov, names=names, converged=converged, rank=len(theta),
            kernel=ll, abundance=self.n_captured + n0, variance=n0 + n0 * n0 * cov[0, 0],
            fitted=fitted[1:], design=self, removed=removed,
            direction=None if y0 is not None else self._direction(
                info, suspect=not converged or n0 < 1e-9 * max(self.n_captured, 1)),
        )

    def _direction(self, info: np.ndarray, suspect: bool = False) -> str | None:
        """Direction of recession of the fit (see :mod:`.recession`). The linear program
        runs only when the information matrix, scaled to a unit diagonal, is nearly
        singular: at convergence, a direction along which the likelihood still rises
        carries almost no information (the cells it empties have means near 0). Where the
        iterations stop short of that (how far they get depends on the machine's rounding),
        a fit that did not converge or left nobody unseen (``suspect``) runs the linear
        program too. An occasion on which nobody was caught recedes alone (its rate goes
        to 0), which the scaling hides: it is read off the data."""
        from crowdcensus.capture.closed.recession import time_effects_direction

        empty = "zero" if np.any(self.nj == 0) else None
        d = np.sqrt(np.clip(np.diag(info), 1e-300, None))
        with np.errstate(all="ignore"):
            scaled = info / np.outer(d, d)
        recede = lambda: time_effects_direction(  # noqa: E731
            self.observed, self.H[:, self.active], np.zeros(len(self.active)))
        if np.all(np.isfinite(scaled)) and np.linalg.eigvalsh(scaled)[0] > RECESSION_EIGEN:
            return (recede() or empty) if suspect else empty
        return recede() or "zero"

    def frequencies(self, fit: LogLinearFit) -> tuple[np.ndarray, np.ndarray]:
        return self.F, fit.fitted


def fit_time_effects(model: str, data: CaptureHistories) -> LogLinearFit:
    """Fit Mt or an Mth model on sufficient statistics."""
    return TimeEffectsDesign(model, data).fit()
