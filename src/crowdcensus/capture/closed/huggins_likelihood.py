"""Huggins' conditional log-likelihood of M0, Mt and Mb, vectorised over individuals.

The model and the notation are described in :mod:`crowdcensus.capture.closed.huggins`.
:func:`huggins_loglik` is the entry point for code that embeds the likelihood in a
larger model (the joint model of the three methods); :class:`HugginsLikelihood`
keeps the data's sufficient statistics for repeated calls and adds the score and
the information matrix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from crowdcensus.errors import InputError

MODELS = ("M0", "Mt", "Mb")
MAX_ITER = 200


def canonical_huggins_model(name: str) -> str:
    """``"m0"`` -> ``"M0"``; anything but M0, Mt, Mb is an input error."""
    for m in MODELS:
        if str(name).strip().lower() == m.lower():
            return m
    raise InputError(f"with covariates the model must be M0, Mt or Mb (got {name!r})")


def intercept_names(model: str, occasions: Sequence[str]) -> list[str]:
    """Names of the intercepts that open the parameter vector of ``model``."""
    if model == "M0":
        return ["(Intercept)"]
    if model == "Mt":
        return [f"(Intercept):{o}" for o in occasions]
    return ["(Intercept)", "recapture"]


def _softplus_sigmoid(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log(1 + e^eta)`` and ``1 / (1 + e^-eta)`` from one exponential, without overflow."""
    e = np.exp(-np.abs(eta))
    sp = np.maximum(eta, 0.0) + np.log1p(e)
    inv = 1.0 / (1.0 + e)
    sig = np.where(eta >= 0, inv, e * inv)
    return sp, sig


def _intercept_map(model: str, t: int) -> np.ndarray:
    """Matrix ``C`` (groups x intercepts): the intercept of each linear predictor group."""
    if model == "M0":
        return np.ones((1, 1))
    if model == "Mt":
        return np.eye(t)
    return np.array([[1.0, 0.0], [1.0, 1.0]])


class HugginsLikelihood:
    """Huggins' conditional log-likelihood of M0, Mt or Mb, vectorised over individuals.

    Parameters
    ----------
    captures : array of shape (n, t), 0/1
        Capture histories; every row must have at least one capture.
    design : array of shape (n, q) or None
        Covariates (no intercept column).
    model : {"M0", "Mt", "Mb"}
    weights : array of shape (n,), optional
        Individuals on each row (frequency weights).

    Notes
    -----
    The parameter vector is the intercepts (1 for M0, ``t`` for Mt, ``(a, b)``
    for Mb: first capture ``a``, recapture ``a + b``) followed by the ``q``
    covariate coefficients. Each individual's linear predictors are grouped
    (M0: one group of ``t`` occasions; Mt: one group per occasion; Mb: before /
    after the first capture), so a call costs ``O(n t)``.
    """

    def __init__(self, captures, design=None, model: str = "M0", weights=None) -> None:
        Y = np.asarray(captures, dtype=float)
        if Y.ndim != 2:
            raise InputError("captures must be a two-dimensional 0/1 array")
        n, t = Y.shape
        X = np.zeros((n, 0)) if design is None else np.asarray(design, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        if X.shape[0] != n:
            raise InputError("the design matrix and the capture matrix differ in rows")
        if np.any(Y.sum(axis=1) == 0):
            raise InputError("every history must have at least one capture")
        self.model = canonical_huggins_model(model)
        self.t, self.X = t, X
        self.w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
        self.C = _intercept_map(self.model, t)
        k = Y.sum(axis=1)
        if self.model == "M0":
            self.succ, self.trials, self.pstar_trials = k[:, None], np.full((n, 1), t), \
                np.array([t])
        elif self.model == "Mt":
            self.succ, self.trials, self.pstar_trials = Y, np.ones((n, t)), np.ones(t)
        else:
            first = np.argmax(Y > 0, axis=1) + 1.0          # occasion of the first capture
            self.first = first
            self.succ = np.column_stack([np.ones(n), k - 1])
            self.trials = np.column_stack([first, t - first])
            self.pstar_trials = np.array([t, 0.0])
        self.n_params = self.C.shape[1] + X.shape[1]

    # ---------------------------------------------------------------- pieces
    def _eta(self, theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.n_params,):
            raise InputError(f"{self.model} with {self.X.shape[1]} covariates has "
                             f"{self.n_params} parameters (got {theta.shape})")
        K = self.C.shape[1]
        return (self.X @ theta[K:])[:, None] + (self.C @ theta[:K])[None, :]

    @staticmethod
    def _pstar(S: np.ndarray) -> np.ndarray:
        # below 1e-250 p* is taken as 0 (log-likelihood -inf): 1 / p* would overflow
        return np.where(S < 1e-250, 0.0, -np.expm1(-S))

    def loglik(self, theta) -> tuple[float, np.ndarray]:
        """Conditional log-likelihood ``sum_i w_i l_i`` and ``p*_i`` of every row."""
        eta = self._eta(theta)
        sp = np.logaddexp(0.0, eta)
        S = sp @ self.pstar_trials
        pstar = self._pstar(S)
        with np.errstate(divide="ignore"):
            li = (self.succ * eta - self.trials * sp).sum(axis=1) - np.log(pstar)
        return float(self.w @ li), pstar

    def derivatives(self, theta, expected: bool = False):
        """Log-likelihood, ``p*``, score and information matrix (observed or expected).

        Returns ``(loglik, pstar, score, information, dS)`` where ``dS`` (n x p)
        holds the derivatives of ``S_i = -log(1 - p*_i)`` by the parameters.
        """
        eta = self._eta(theta)
        sp, sig = _softplus_sigmoid(eta)
        v = sig * (1.0 - sig)
        S = sp @ self.pstar_trials
        pstar = self._pstar(S)
        with np.errstate(divide="ignore", over="ignore"):
            u = 1.0 / np.expm1(S)            # (1 - p*) / p*
            li = (self.succ * eta - self.trials * sp).sum(axis=1) - np.log(pstar)
        trials = self.trials
        if expected and self.model == "Mb":
            ef = self.expected_first(sig[:, 0], pstar)
            trials = np.column_stack([ef, self.t - ef])
        s = sig * self.pstar_trials                       # dS / d eta, per group
        r = self.succ - self.trials * sig - u[:, None] * s
        D = trials * v + u[:, None] * (v * self.pstar_trials)
        w, X, C = self.w, self.X, self.C
        score = np.concatenate([(w @ r) @ C, X.T @ (w * r.sum(axis=1))])
        K = C.shape[1]
        info = np.empty((self.n_params, self.n_params))
        Dw = D * w[:, None]
        info[:K, :K] = C.T @ np.diag(Dw.sum(axis=0)) @ C
        info[:K, K:] = C.T @ (Dw.T @ X)
        info[K:, :K] = info[:K, K:].T
        info[K:, K:] = X.T @ (X * Dw.sum(axis=1)[:, None])
        dS = np.hstack([s if self.model != "Mb" else s @ C, X * s.sum(axis=1)[:, None]])
        # u (1 + u) dS dS' written as e^S (u dS)(u dS)': u dS stays bounded as p* -> 0
        z = dS * u[:, None]
        info -= z.T @ (z * (w * np.exp(np.minimum(S, 700.0)))[:, None])
        return float(w @ li), pstar, score, info, dS

    def expected_first(self, p: np.ndarray, pstar: np.ndarray) -> np.ndarray:
        """``E[f_i | caught]``: expected occasion of the first capture (Mb)."""
        k = np.arange(1, self.t + 1)
        q = 1.0 - p
        probs = p[:, None] * q[:, None] ** (k - 1)[None, :]
        return (probs @ k) / pstar


def huggins_loglik(captures, design, params, model: str = "M0",
                   weights=None) -> tuple[float, np.ndarray]:
    """Huggins' conditional log-likelihood and ``p*_i`` (chance of being caught at least once).

    Parameters
    ----------
    captures : array (n, t) of 0/1, each row caught at least once
    design : array (n, q) or None -- covariates, no intercept column
    params : array (k,) -- intercepts (M0: 1, Mt: t, Mb: first capture and
        recapture shift) then the ``q`` coefficients, on the logit scale
    model : {"M0", "Mt", "Mb"}
    weights : array (n,), optional -- individuals per row

    Returns
    -------
    loglik : float
    pstar : ndarray (n,)
        ``N = sum(weights / pstar)`` is the Horvitz--Thompson abundance.
    """
    return HugginsLikelihood(captures, design, model, weights).loglik(params)


def _start(lik: HugginsLikelihood) -> np.ndarray:
    w = lik.w

    def logit(x):
        x = min(max(float(x), 0.02), 0.98)
        return math.log(x / (1 - x))

    if lik.model == "M0":
        a = [logit((w @ lik.succ[:, 0]) / (w.sum() * lik.t))]
    elif lik.model == "Mt":
        a = [logit(r) for r in (w @ lik.succ) / w.sum()]
    else:
        p = w.sum() / (w @ lik.first)
        rest = w @ lik.trials[:, 1]
        c = (w @ lik.succ[:, 1]) / rest if rest > 0 else 0.5
        a = [logit(p), logit(c) - logit(p)]
    return np.concatenate([a, np.zeros(lik.X.shape[1])])


def maximise(lik: HugginsLikelihood, theta: np.ndarray | None = None
             ) -> tuple[np.ndarray, int, bool]:
    """Maximise the likelihood by damped Newton ascent with step halving.

    Starts from ``theta`` or from the logits of the observed capture rates;
    stops when the Newton decrement ``g' H^-1 g`` falls below ``1e-15 |loglik|``.
    Returns ``(theta, iterations, converged)``.
    """
    if theta is None:
        theta = _start(lik)
    ll = lik.loglik(theta)[0]
    for it in range(1, MAX_ITER + 1):
        _, _, score, info, _ = lik.derivatives(theta)
        if not np.all(np.isfinite(score)) or not np.all(np.isfinite(info)):
            return theta, it, False
        step = _solve_damped(info, score)
        decrement = float(score @ step)
        if decrement < 1e-15 * max(1.0, abs(ll)):
            return theta, it, True
        alpha = 1.0
        for _ in range(40):
            cand = theta + alpha * step
            new = lik.loglik(cand)[0]
            if np.isfinite(new) and new >= ll - 1e-12 * abs(ll):
                break
            alpha /= 2
        else:
            return theta, it, decrement < 1e-6
        theta, ll = cand, new
    return theta, MAX_ITER, False


def _solve_damped(info: np.ndarray, score: np.ndarray) -> np.ndarray:
    lam = 0.0
    scale = max(float(np.abs(np.diag(info)).max()), 1e-12)
    for _ in range(30):
        try:
            chol = np.linalg.cholesky(info + lam * scale * np.eye(len(score)))
            return np.linalg.solve(chol.T, np.linalg.solve(chol, score))
        except np.linalg.LinAlgError:
            lam = 1e-8 if lam == 0.0 else lam * 10
    return score / scale
