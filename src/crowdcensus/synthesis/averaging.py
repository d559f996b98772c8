"""The take-up slope and the chance of seeing the task: two fits, averaged.

A take-up that rises with activity and a task that a visit does not always show both
make the chance of answering a wave rise with the visit rate more steeply than the
visits alone do, and NUTS could not sample a model holding both (docs/synthesis.md).
The joint model is therefore fitted twice (``experiment.take_up_slope = "average"``):
with the chance of seeing the task and no slope, and with the slope and that chance held
at 1. Each fit's marginal likelihood is approximated at its mode (Laplace: the log
posterior density there plus the log volume of the normal whose precision is the
Hessian; Kass and Raftery 1995), the two models get posterior probabilities from even
prior odds, and the figures are draws from the mixture of the two posteriors: Bayesian
model averaging (Hoeting, Madigan, Raftery and Volinsky 1999). Where the data cannot
tell the two apart, the mixture carries both readings; where they can, it is the one
they favour.

A model whose probability is below :data:`WINDOW` is left out (Occam's window; Madigan
and Raftery 1994): with NUTS it is not sampled at all, since its marginal likelihood
comes from the cheap fit at the mode. Where NUTS samples both, the weights are taken
again from their draws, by bridge sampling (:mod:`crowdcensus.synthesis.evidence`): the
Laplace estimate is off where a posterior is skewed, and by more for one model than the
other on small countries.

References
----------
Hoeting, J. A., Madigan, D., Raftery, A. E. and Volinsky, C. T. (1999). Bayesian model
averaging: a tutorial. *Statistical Science* 14, 382-417.
Kass, R. E. and Raftery, A. E. (1995). Bayes factors. *JASA* 90, 773-795.
Madigan, D. and Raftery, A. E. (1994). Model selection and accounting for model
uncertainty in graphical models using Occam's window. *JASA* 89, 1535-1546.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from crowdcensus.synthesis.data import SynthesisData, with_take_up_slope
from crowdcensus.synthesis.inference import MASS_FROM_DRAWS, RETRIED, Posterior, fit_joint

#: Below this posterior probability, a model is left out of the average.
WINDOW = 0.01

#: The value each model holds fixed for the site the other one fits: without the
#: slope it is 0; with it the chance of seeing the task is 1 (its log 0).
HELD = {"takeup_slope": 0.0, "log_sight": 0.0}

#: ``Posterior.diagnostics`` key of the slope model's posterior probability.
WEIGHT = "slope_probability"
#: ``Posterior.diagnostics`` key saying which model was left out for not converging.
LEFT_OUT = "averaging_left_out"
#: The slope model's prior odds set beside the even odds, as multiples of them: four
#: times less and four times more likely than the other model before the data.
ODDS = (0.25, 4.0)
#: The mixture's site saying, per draw, which model it comes from (1: with the slope).
MODEL = "slope_model"
#: ``Posterior.diagnostics`` key of the slope model's probability from the Laplace
#: marginal likelihoods, where the average's weight is the bridge sampling one.
WEIGHT_LAPLACE = "slope_probability_laplace"


def slope_probability(without: Posterior, with_slope: Posterior,
                      key: str = "log_evidence") -> float:
    """The posterior probability of the model with the slope, from even prior odds and
    the two fits' log marginal likelihoods ``diagnostics[key]``: the Laplace ones
    (``"log_evidence"``), or bridge sampling's from NUTS's draws
    (``"log_evidence_bridge"``, :mod:`crowdcensus.synthesis.evidence`); 0.5 where either
    has none (a Hessian that is not positive definite).

    >>> a = Posterior({}, "laplace", {}, {"log_evidence": -100.0})
    >>> b = Posterior({}, "laplace", {}, {"log_evidence": -100.0 + np.log(3)})
    >>> round(slope_probability(a, b), 6)
    0.75
    """
    a = without.diagnostics.get(key)
    b = with_slope.diagnostics.get(key)
    if a is None or b is None or not (np.isfinite(a) and np.isfinite(b)):
        return 0.5
    return float(1.0 / (1.0 + np.exp(np.clip(a - b, -700.0, 700.0))))


def _rows(x: np.ndarray, n: int) -> np.ndarray:
    """``n`` rows of ``x`` spread evenly over it, in order (each row repeated where ``n``
    exceeds them: every chain of a shorter NUTS run beside a longer one)."""
    return x[np.round(np.linspace(0, x.shape[0] - 1, n)).astype(int)]


def _pick(a: dict, b: dict, from_b: np.ndarray) -> dict:
    """Row ``i`` of every site from ``b`` where ``from_b[i]``, else from ``a``; a site that
    only one model has takes, in the other's rows, the value the other holds fixed."""
    n = from_b.size
    out = {}
    for key in sorted(set(a) | set(b)):
        if key not in a and key not in HELD or key not in b and key not in HELD:
            continue
        x = np.asarray(a[key]) if key in a else None
        y = np.asarray(b[key]) if key in b else None
        like = x if x is not None else y
        x = _rows(x, n) if x is not None else np.full(_rows(like, n).shape, HELD[key])
        y = _rows(y, n) if y is not None else np.full(_rows(like, n).shape, HELD[key])
        if x.shape != y.shape:
            continue
        out[key] = np.where(from_b.reshape(-1, *([1] * (x.ndim - 1))), y, x)
    return out


def mix(without: Posterior, with_slope: Posterior, probability: float,
        seed: int = 0) -> Posterior:
    """Draws from the two posteriors' mixture, each from ``with_slope`` with
    ``probability`` (seeded); the diagnostics, problems and mode are the more probable
    model's, the problems of both are kept, and so are the reasons either was sampled a
    second time (``diagnostics[RETRIED]``).

    The mixture has as many draws as the longer of the two (NUTS's chains of one model
    may have run on further than the other's): every draw of the longer is kept, and the
    shorter's draws are repeated in order, so that neither loses the precision its
    chains ran on for (``diagnostics["draws"]`` is then the draws per chain of the
    longer)."""
    rng = np.random.default_rng([seed, 7])
    n = max(min(np.asarray(v).shape[0] for v in p.samples.values())
            for p in (without, with_slope))
    from_slope = rng.random(n) < probability
    samples = _pick(without.samples, with_slope.samples, from_slope)
    samples[MODEL] = from_slope.astype(float)
    predictive = {}
    if without.predictive and with_slope.predictive:
        m = max(min(np.asarray(v).shape[0] for v in p.predictive.values())
                for p in (without, with_slope))
        predictive = _pick(without.predictive, with_slope.predictive,
                           rng.random(m) < probability)
    main = with_slope if probability >= 0.5 else without
    extra = {}
    chains = main.diagnostics.get("chains")
    if isinstance(chains, int) and chains > 0 and "draws" in main.diagnostics:
        extra["draws"] = n // chains
    retried = [p.diagnostics for p in (without, with_slope) if p.diagnostics.get(RETRIED)]
    if retried:  # either model's chains sampled a second time (inference.fit_joint)
        wider = [d[MASS_FROM_DRAWS] for d in retried if d.get(MASS_FROM_DRAWS)]
        extra = {RETRIED: list(dict.fromkeys(x for d in retried for x in d[RETRIED])),
                 "target_accept": max(d["target_accept"] for d in retried),
                 MASS_FROM_DRAWS: max(wider) if wider else None}
    return dataclasses.replace(
        main, samples=samples, predictive=predictive,
        diagnostics={**main.diagnostics, WEIGHT: probability, **extra}, precision=None,
        converged=without.converged and with_slope.converged,
        problems=list(dict.fromkeys(without.problems + with_slope.problems)))


def draw_models(samples: dict) -> np.ndarray | None:
    """Per draw, True where it comes from the model with the slope and False where from
    the one without; None where the model has neither (no capture histories). A posterior
    of one model alone (the other outside :data:`WINDOW`, or ``take_up_slope`` true or
    false) is all of one."""
    if MODEL in samples:
        return np.asarray(samples[MODEL], dtype=float) > 0.5
    for key, slope in (("takeup_slope", True), ("log_sight", False)):
        if key in samples:
            return np.full(np.asarray(samples[key]).shape[0], slope)
    return None


def reweighted(models: np.ndarray, probability: float, odds: float = 1.0,
               log_ratio: tuple[np.ndarray | None, np.ndarray | None] = (None, None)
               ) -> tuple[np.ndarray, float]:
    """Self-normalised weights that turn the averaged draws into those of another average:
    with the slope model's prior odds multiplied by ``odds``, and with the prior of a
    parameter of one model changed. ``log_ratio[m]`` (m = 0 without the slope, 1 with it)
    is, at each of that model's draws, the log of the new prior density over the old one
    (both normalised), or None for no change: it reweights the model's draws and
    multiplies its marginal likelihood by the ratio's posterior mean, which moves the
    model's probability (a wider prior of the slope lowers its model's). Returns the
    weights and the slope model's new probability. A model without draws (left out of
    the average) keeps its marginal likelihood and gets no weight.

    >>> m = np.array([True, False, False, False])
    >>> w, p = reweighted(m, 0.25, odds=3.0)
    >>> round(p, 3), [round(float(x), 3) for x in w]
    (0.5, [0.5, 0.167, 0.167, 0.167])
    """
    models = np.asarray(models, dtype=bool)
    parts, factor = [], [1.0, 1.0]
    for m, mask in enumerate((~models, models)):
        if log_ratio[m] is None or not mask.any():
            parts.append(mask.astype(float))
            continue
        lr = np.asarray(log_ratio[m], dtype=float)[mask]
        top = lr.max()
        factor[m] = float(np.mean(np.exp(lr - top)) * np.exp(top))
        w = np.zeros(models.size)
        w[mask] = np.exp(lr - top)
        parts.append(w)
    if probability >= 1.0 or probability <= 0.0:
        new = float(probability >= 1.0)
    else:
        log_odds = (np.log(probability) - np.log1p(-probability) + np.log(odds)
                    + np.log(factor[1]) - np.log(factor[0]))
        new = float(1.0 / (1.0 + np.exp(-np.clip(log_odds, -700.0, 700.0))))
    share = [1.0 - new, new]
    weights = sum(share[m] * parts[m] / parts[m].sum() for m in (0, 1) if parts[m].sum() > 0)
    weights = np.asarray(weights, dtype=float)
    return weights / weights.sum(), new


def fit_averaged(fit: Callable[..., Posterior], method: str, predictive: bool,
                 seed: int = 0) -> Posterior:
    """Fit the model without and with the slope and average them.

    ``fit(slope, method, predictive, start, bridge)`` fits one of them, its mode searched
    from the mode of the fit ``start`` (a :class:`Posterior`) when given, with that fit's
    Hessian as the search's first curvature, and with NUTS its marginal likelihood
    estimated from its draws when ``bridge`` (:func:`~crowdcensus.synthesis.inference.
    fit_joint`). The model without the slope is fitted first; the one with it is
    searched from its mode (the slope at 0, the rest where the first fit put them),
    which costs one search instead of three. With ``method == "laplace"`` the two fits
    give both the draws and the marginal likelihoods; with NUTS, two Laplace fits give the
    probabilities first and only the models inside :data:`WINDOW` are sampled, from the
    modes found, and where both are, their probabilities come from bridge sampling on
    their draws (the Laplace one kept as ``diagnostics[WEIGHT_LAPLACE]``). The result's
    ``diagnostics[WEIGHT]`` is the slope model's probability.
    Where one of the two does not converge at its mode and the other does, the other is
    kept alone (probability 1 or 0) and ``diagnostics[LEFT_OUT]`` says so; so too where
    NUTS samples both and only one converges (``diagnostics[WEIGHT_LAPLACE]`` then keeps
    the probability the modes gave).
    """
    cheap = method == "laplace"
    without = fit(False, "laplace", predictive and cheap, None, False)
    first = [without, fit(True, "laplace", predictive and cheap, without, False)]
    ok = [p.converged for p in first]
    if ok[0] != ok[1]:
        # one of the two cannot be weighed (no mode found, or not locally normal there)
        keep = ok.index(True)
        post = first[keep] if cheap else fit(bool(keep), method, predictive, first[keep],
                                             False)
        return _alone(post, keep, first[1 - keep])
    w = slope_probability(*first)
    inside = [1 - w >= WINDOW, w >= WINDOW]
    if not cheap:
        both = inside[0] and inside[1]
        first = [fit(slope, method, predictive, post, both) if keep else post
                 for slope, keep, post in zip((False, True), inside, first, strict=True)]
    if not inside[0] or not inside[1]:
        post = first[1] if inside[1] else first[0]
        return dataclasses.replace(post, diagnostics={**post.diagnostics, WEIGHT: w})
    sampled = [p.converged for p in first]
    if not cheap and sampled[0] != sampled[1]:
        # NUTS could not sample one of the two: said with the probability the modes gave it
        keep = sampled.index(True)
        return _alone(first[keep], keep, first[1 - keep], w)
    if not cheap and all(np.isfinite(p.diagnostics.get("log_evidence_bridge", np.nan))
                         for p in first):
        # both sampled: their weights from the draws (bridge sampling) rather than from
        # the normal at each mode, which chose them
        out = mix(*first, slope_probability(*first, key="log_evidence_bridge"), seed=seed)
        return dataclasses.replace(out, diagnostics={**out.diagnostics, WEIGHT_LAPLACE: w})
    return mix(*first, w, seed=seed)


def _alone(post: Posterior, keep: int, left: Posterior, modes: float | None = None
           ) -> Posterior:
    """``post`` (the model with the slope if ``keep``, else the one without) alone, its
    diagnostics saying that the other, ``left``, was left out of the average and why;
    ``modes``: the slope model's probability at the modes where both were weighed there
    and ``left``'s sampler then failed, None where ``left`` failed at its mode."""
    said = f"the model {'with' if keep == 0 else 'without'} the take-up slope was left out "
    extra = {}
    if modes is None:
        said += f"of the average ({'; '.join(left.problems)})"
    else:
        extra = {WEIGHT_LAPLACE: modes}
        said += (f"of the average, though the modes gave it "
                 f"{100 * (modes if keep == 0 else 1 - modes):.0f}%: its sampler did not "
                 f"converge ({'; '.join(left.problems)}); the figures are the other "
                 "reading's alone")
    return dataclasses.replace(post, diagnostics={**post.diagnostics, WEIGHT: float(keep),
                                                  LEFT_OUT: said, **extra})


def fit_readings(data: SynthesisData, method: str, predictive: bool, seed: int = 0,
                 progress: bool = False, **options) -> Posterior:
    """:func:`fit_averaged` with :func:`~crowdcensus.synthesis.inference.fit_joint` on
    ``data`` with the slope off and on, as ``crowdcensus run`` fits a study whose
    ``experiment.take_up_slope`` is "average"; ``options``: ``fit_joint``'s chains,
    warm-up and draws (the progress bar shows for the NUTS runs only)."""
    def fit(slope, m, pred, start, bridge):
        found = start is not None and bool(start.mode)
        return fit_joint(with_take_up_slope(data, slope), method=m, seed=seed,
                         progress=progress and m == "nuts", predictive=pred,
                         start=start.mode if found else None, bridge=bridge,
                         start_precision=start.precision if found else None, **options)

    return fit_averaged(fit, method, predictive, seed=seed)
