"""Design of the closed-population log-linear models (Rcapture's ``closedp`` family).

Each model says how the expected count of a capture history ``w`` depends on
the history (Rivest & Baillargeon 2007, *J. Stat. Software* 19(5); Rivest &
Lévesque 2001)::

    log E[y_w] = b0 + x(w)' beta

with ``exp(b0)`` the expected number of never-caught individuals for every
model but Mb/Mbh. With ``k = sum(w)`` captures:

========================  =====================================================
M0                        ``k``
Mt                        ``w_1 .. w_t``
Mh <h>                    ``k`` and the heterogeneity column(s) ``h(k)``
Mth <h>                   ``w_1 .. w_t`` and ``h(k)``
Mb                        occasions before the first capture, ``k - 1``
Mbh                       ``1 - w_1``, occasions before the first capture, ``k - 1``
========================  =====================================================

Heterogeneity columns: Chao (LB) ``(k - j + 1)+`` for ``j = 3..t`` (each
coefficient constrained to be >= 0); Poisson2 ``2**k - 1``; Darroch ``k**2/2``;
Gamma3.5 ``log(3.5) - log(3.5 + k)``.

Histories that share a covariate row are grouped (see :mod:`.glm`), so M0, Mh
and Mb/Mbh never enumerate the ``2**t`` table; Mt/Mth use the full table up to
:data:`FULL_TABLE_MAX_T` occasions and the symmetric-polynomial engine of
:mod:`.timeeffects` beyond.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from crowdcensus.capture.glm import gammaln
from crowdcensus.capture.histories import CaptureFrequencies, CaptureHistories
from crowdcensus.errors import InputError, ModelError, TooLargeError

MODEL_NAMES: tuple[str, ...] = (
    "M0",
    "Mt",
    "Mh Chao (LB)",
    "Mh Poisson2",
    "Mh Darroch",
    "Mh Gamma3.5",
    "Mth Chao (LB)",
    "Mth Poisson2",
    "Mth Darroch",
    "Mth Gamma3.5",
    "Mb",
    "Mbh",
)
TWO_OCCASION_MODELS = ("M0", "Mt", "Mb")
FREQUENCY_MODELS = ("M0", "Mh Chao (LB)", "Mh Poisson2", "Mh Darroch", "Mh Gamma3.5")
#: Largest number of occasions for which a model may build the full 2**t table.
FULL_TABLE_MAX_T = 16


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9.]", "", name.lower()).replace("lb", "")


_BY_KEY = {_key(n): n for n in MODEL_NAMES}


def canonical_model_name(name: str) -> str:
    """Rcapture's spelling of a model name given loosely (``mh chao``, ``MTH-DARROCH``...)."""
    found = _BY_KEY.get(_key(name))
    if found is None:
        raise InputError(
            f"unknown model {name!r}; models are: {', '.join(MODEL_NAMES)}"
        )
    return found


def heterogeneity_columns(kind: str, k: np.ndarray, t: float) -> tuple[np.ndarray, list[str]]:
    """Heterogeneity covariates ``h(k)`` (one column each), zero at ``k = 0``."""
    k = np.asarray(k, dtype=float)
    if kind == "Chao (LB)":
        top = int(t) if t != math.inf else int(k.max())
        js = range(3, top + 1)
        if top < 3:
            return np.zeros((len(k), 0)), []
        return np.column_stack([np.maximum(k - j + 1, 0) for j in js]), [f"eta{j}" for j in js]
    if kind == "Poisson2":
        return (2.0**k - 1)[:, None], ["tau"]
    if kind == "Darroch":
        return (k**2 / 2)[:, None], ["tau"]
    if kind == "Gamma3.5":
        return (math.log(3.5) - np.log(3.5 + k))[:, None], ["tau"]
    raise ValueError(kind)


def split_name(model: str) -> tuple[str, str | None]:
    """``"Mth Darroch"`` -> ``("Mth", "Darroch")``."""
    base, _, het = model.partition(" ")
    return base, (het or None)


def parse_interactions(spec: str | Sequence[str] | None, occasions: Sequence[str]) -> list[tuple]:
    """Parse ``c1:c2,c3:c4`` into index pairs (or longer tuples) of occasions."""
    if spec is None:
        return []
    items = [s for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    out = []
    for item in items:
        names = [x.strip() for x in item.split(":")]
        if len(names) < 2:
            raise InputError(f"interaction {item!r} must name two or more occasions as c1:c2")
        idx = []
        for nm in names:
            if nm not in occasions:
                raise InputError(
                    f"interaction {item!r}: no occasion named {nm!r} "
                    f"(occasions: {', '.join(occasions)})"
                )
            idx.append(list(occasions).index(nm))
        if len(set(idx)) != len(idx):
            raise InputError(f"interaction {item!r} repeats an occasion")
        out.append(tuple(idx))
    return out


@dataclass
class Design:
    """A grouped Poisson log-linear problem for one model and one data set.

    ``X`` includes the intercept as column 0. ``offset`` holds the log number of
    histories in each group; ``cell_offset`` what must be subtracted from a
    group's log-mean to get a single cell's (equal to ``offset`` when a group
    pools several cells of the likelihood, 0 when the group is one cell).
    """

    X: np.ndarray
    y: np.ndarray
    offset: np.ndarray
    cell_offset: np.ndarray
    names: list[str]
    n_cells: int
    n_captured: int
    saturated_ylogy: float
    lgamma_sum: float
    constrained: list[int] = field(default_factory=list)
    #: Covariates of the never-caught history; ``None`` when it is not in the model's form.
    zero_row: np.ndarray | None = None
    #: ``(coef, cov) -> (abundance, variance)`` for models whose abundance is not n + exp(b0).
    abundance: Callable | None = None

    def drop(self, cols: Sequence[int]) -> Design:
        keep = [j for j in range(self.X.shape[1]) if j not in set(cols)]
        remap = {old: new for new, old in enumerate(keep)}
        return Design(
            self.X[:, keep], self.y, self.offset, self.cell_offset,
            [self.names[j] for j in keep], self.n_cells, self.n_captured,
            self.saturated_ylogy, self.lgamma_sum,
            [remap[j] for j in self.constrained if j in remap],
            None if self.zero_row is None else self.zero_row[keep],
            self.abundance,
        )


def _saturated_terms(counts: np.ndarray) -> tuple[float, float]:
    c = counts[counts > 0].astype(float)
    return float(np.sum(c * np.log(c))), float(np.sum(gammaln(c + 1)))


def _log_binom(n: float, k: np.ndarray) -> np.ndarray:
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


def needs_full_table(model: str, interactions: Sequence) -> bool:
    base, _ = split_name(model)
    return bool(interactions) or base in ("Mt", "Mth")


def design_for_histories(
    model: str, data: CaptureHistories, interactions: Sequence[tuple] = ()
) -> Design:
    """Grouped design of ``model`` on history data (full table only where needed)."""
    t, n = data.t, data.n_captured
    ylogy, lg = _saturated_terms(data.counts)
    n_cells = 2**t - 1
    base, het = split_name(model)
    if t == 2 and model not in TWO_OCCASION_MODELS:
        raise ModelError(f"model {model} needs at least 3 occasions (with 2, only M0, Mt, Mb)")
    if interactions and base in ("Mb", "Mbh"):
        raise ModelError(f"interactions cannot be added to {model}")

    if needs_full_table(model, interactions):
        if t > FULL_TABLE_MAX_T:
            what = "with interactions " if interactions else ""
            raise TooLargeError(
                f"model {model} {what}needs the full table of 2^{t} histories; "
                f"t={t} is more than {FULL_TABLE_MAX_T}"
            )
        codes = np.arange(1, 2**t, dtype=np.int64)
        W = ((codes[:, None] >> np.arange(t)) & 1).astype(float)
        k = W.sum(axis=1)
        y = data.full_table()
        if base in ("Mt", "Mth"):
            cols, names = [W], list(data.occasions)
        else:
            cols, names = [k[:, None]], ["k"]
        zero = [np.zeros(W.shape[1] if base in ("Mt", "Mth") else 1)]
        if het is not None:
            H, hn = heterogeneity_columns(het, k, t)
            cols.append(H)
            names += hn
            zero.append(np.zeros(H.shape[1]))
        if base in ("Mb", "Mbh"):
            raise ModelError("internal: behavioural models are grouped")
        for inter in interactions:
            cols.append(np.prod(W[:, list(inter)], axis=1)[:, None])
            names.append(":".join(data.occasions[i] for i in inter))
            zero.append(np.zeros(1))
        X = np.column_stack([np.ones(len(y)), *cols])
        constrained = [1 + j for j, nm in enumerate(names) if nm.startswith("eta")]
        zero_row = np.concatenate([[1.0], *zero])
        off = np.zeros(len(y))
        return Design(X, y, off, off, ["(Intercept)", *names], n_cells, n, ylogy, lg,
                      constrained, zero_row)

    if base in ("M0", "Mh"):
        ks = np.arange(1, t + 1, dtype=float)
        y = data.capture_frequencies().astype(float)
        off = _log_binom(t, ks)
        cols, names = [ks[:, None]], ["k"]
        if het is not None:
            H, hn = heterogeneity_columns(het, ks, t)
            cols.append(H)
            names += hn
        X = np.column_stack([np.ones(t), *cols])
        constrained = [j for j, nm in enumerate(names, start=1) if nm.startswith("eta")]
        zero_row = np.zeros(X.shape[1])
        zero_row[0] = 1.0
        return Design(X, y, off, off, ["(Intercept)", *names], n_cells, n, ylogy, lg,
                      constrained, zero_row)

    if base in ("Mb", "Mbh"):
        return _behavioural_design(base, data, ylogy, lg)
    raise InputError(f"unknown model {model!r}")


def _behavioural_design(base: str, data: CaptureHistories, ylogy: float, lg: float) -> Design:
    """Mb / Mbh grouped by (first capture occasion f, number of captures k).

    ``C(t - f, k - 1)`` histories share a group.
    """
    t, n = data.t, data.n_captured
    fs, ks = np.meshgrid(np.arange(1, t + 1), np.arange(1, t + 1), indexing="ij")
    ok = ks - 1 <= t - fs
    f, k = fs[ok].astype(float), ks[ok].astype(float)
    obs = np.zeros((t + 1, t + 1))
    np.add.at(obs, (data.first_capture(), data.times_caught()), data.counts)
    y = obs[f.astype(int), k.astype(int)]
    off = _log_binom(t - f, k - 1)
    cols = [f - 1, k - 1]
    names = ["(Intercept)", "before_first", "recaptures"]
    if base == "Mbh":
        cols.insert(0, (f > 1).astype(float))
        names.insert(1, "not_first_occasion")
    X = np.column_stack([np.ones(len(y)), *cols])
    fn = _mbh_abundance if base == "Mbh" else _mb_abundance
    return Design(X, y, off, off, names, 2**t - 1, n, ylogy, lg, [], None,
                  lambda coef, cov: fn(coef, cov, t))


def _guard_overflow(fn):
    """A behavioural abundance that overflows is unbounded, not an error."""

    def wrapped(coef: np.ndarray, cov: np.ndarray, t: int) -> tuple[float, float]:
        try:
            return fn(coef, cov, t)
        except OverflowError:
            return math.inf, math.inf

    wrapped.__doc__ = fn.__doc__
    return wrapped


@_guard_overflow
def _mb_abundance(coef: np.ndarray, cov: np.ndarray, t: int) -> tuple[float, float]:
    """Mb (Cormack 1989 form): N = e^{b0} (1+e^{b2})^t / (1 + e^{b2} - e^{b1}).

    Variance ``g' V g - N`` (Poisson delta-method minus N: the multinomial variance).
    """
    b0, b1, b2 = coef
    e1, e2, e3 = math.exp(b0), math.exp(b1), math.exp(b2)
    d = 1 + e3 - e2
    if d <= 0:
        return math.inf, math.inf
    N = e1 * (1 + e3) ** t / d
    g = N * np.array([1.0, e2 / d, t * e3 / (1 + e3) - e3 / d])
    return N, float(g @ cov @ g) - N


@_guard_overflow
def _mbh_abundance(coef: np.ndarray, cov: np.ndarray, t: int) -> tuple[float, float]:
    """Mbh: first-capture probability on occasion 1 free, removal model after it."""
    b0, eta, b1, b2 = coef
    d = 1 + math.exp(b2) - math.exp(b1)
    if d <= 0:
        return math.inf, math.inf
    a = math.exp(b0) * (1 + math.exp(b2)) ** (t - 1)
    r = math.exp(eta + b1) / d
    N = a * (1 + r)
    g = a * np.array([
        1 + r,
        r,
        r + math.exp(eta + 2 * b1) / d**2,
        (t - 1) * math.exp(b2) / (1 + math.exp(b2)) - math.exp(eta + b1 + b2) / d**2,
    ])
    return N, float(g @ cov @ g) - N


def design_for_frequencies(model: str, data: CaptureFrequencies) -> Design:
    """Design of ``model`` on frequency-of-capture data (Rcapture's ``closedp.0``).

    Cells are the counts ``f_k``; the offset is ``log C(t, k)`` for ``t``
    occasions and ``-log k!`` in continuous time (``t = inf``).
    """
    if model not in FREQUENCY_MODELS:
        raise ModelError(
            f"model {model} needs full capture histories; on frequency-of-capture data "
            f"the models are {', '.join(FREQUENCY_MODELS)}"
        )
    t = data.t
    kmax = data.kmax
    ks = np.arange(1, kmax + 1, dtype=float)
    y = data.f.astype(float)
    off = -gammaln(ks + 1) if t == math.inf else _log_binom(t, ks)
    base, het = split_name(model)
    if kmax == 2 and het is not None:
        raise ModelError(f"model {model} needs counts up to at least 3 captures")
    cols, names = [ks[:, None]], ["k"]
    if het is not None:
        H, hn = heterogeneity_columns(het, ks, kmax)
        cols.append(H)
        names += hn
    X = np.column_stack([np.ones(kmax), *cols])
    ylogy, lg = _saturated_terms(y)
    constrained = [j for j, nm in enumerate(names, start=1) if nm.startswith("eta")]
    zero_row = np.zeros(X.shape[1])
    zero_row[0] = 1.0
    return Design(X, y, off, np.zeros(kmax), ["(Intercept)", *names], kmax,
                  data.n_captured, ylogy, lg, constrained, zero_row)
