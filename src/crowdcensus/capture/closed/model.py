"""Closed-population capture--recapture estimators with Rcapture's model names.

The estimators follow the log-linear (Poisson regression) form of Rivest &
Baillargeon's Rcapture (``closedp.t``, ``closedp.0``, ``closedpCI.t``): see
:mod:`.design` for the models and :mod:`.profile` for the intervals.

>>> from crowdcensus.capture import load_hare
>>> from crowdcensus.capture.closed import ClosedPopulationModel, fit_closed_models
>>> m = ClosedPopulationModel("Mh Chao (LB)").fit(load_hare())
>>> round(m.abundance_, 2), round(m.stderr_, 2)
(79.84, 6.37)
>>> table = fit_closed_models(load_hare())        # the twelve models
>>> table.best().name_
'Mth Poisson2'
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from crowdcensus.capture.base import SCHEMA_VERSION, PopulationEstimator, finite_or_none
from crowdcensus.capture.closed.design import (
    FREQUENCY_MODELS,
    MODEL_NAMES,
    TWO_OCCASION_MODELS,
    canonical_model_name,
    design_for_frequencies,
    design_for_histories,
    parse_interactions,
    split_name,
)
from crowdcensus.capture.closed.loglinear import LogLinearFit, fit_design
from crowdcensus.capture.histories import CaptureFrequencies, CaptureHistories
from crowdcensus.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

CaptureData = CaptureHistories | CaptureFrequencies
#: From this many occasions on, Mt/Mth are fitted on sufficient statistics (the full
#: table is faster below it; both give the same estimates).
TIME_EFFECTS_MIN_T = 10


def _level_from(level: float, conf_level: float | None, owner: str) -> float:
    if conf_level is None:
        return level
    warnings.warn(f"{owner}: conf_level is deprecated, use level", DeprecationWarning,
                  stacklevel=3)
    return conf_level


class ClosedPopulationModel(PopulationEstimator):
    r"""One closed-population model (M0, Mt, Mh..., Mth..., Mb, Mbh).

    The ``2**t - 1`` observable histories ``w`` (or, on frequency data, the
    numbers ``f_k`` caught ``k`` times) are Poisson counts with
    ``log E[y_w] = b0 + x_w' b``; the never-seen history has expected count
    ``exp(b0)``, so ``N = n + exp(b0)`` with ``n`` the individuals seen
    (Cormack 1989; Rivest & Baillargeon 2007). Mb and Mbh have their own
    forms (see :mod:`.design`).

    Parameters
    ----------
    model : str
        Rcapture's model name (loosely spelled names are accepted). The fitted
        ``name_`` is always Rcapture's spelling; added interactions are listed
        in ``interactions_``.
    interactions : str or sequence of str, optional
        Two-way (or higher) interactions between occasions added to the
        model, as ``"c1:c2,c3:c4"`` (Rcapture's ``mX = ~ . + c1:c2``).
    ci : {None, "profile"}
        ``"profile"``: the interval is the profile-likelihood interval of the
        multinomial likelihood (Rcapture's ``closedpCI``); by default it is
        Chao's (1987) log-normal interval.
    level : float
        Confidence level of the interval (default 0.95).

    Attributes
    ----------
    abundance_, stderr_ : float
        Estimated population size ``N = n + exp(b0)`` (Mb/Mbh: their own
        form) and its standard error (multinomial: Poisson delta-method
        variance ``exp(b0) + exp(2 b0) var(b0)``). ``inf`` for an unbounded
        fit; for a degenerate fit the abundance is its limit ``n`` and the
        standard error ``nan``.
    confidence_interval_ : tuple of float or None
        ``(low, high)`` at ``level``; ``None`` when a profile interval is
        asked for a behavioural model (it is not defined there), and for a
        failed or degenerate fit.
    n_captured_ : int
        Number of distinct individuals seen.
    deviance_, df_, aic_, bic_ : float, int, float, float
        Deviance against the saturated Poisson model over the ``2**t - 1``
        observable histories (or the ``f_k`` cells on frequency data);
        AIC/BIC from the full Poisson log-likelihood, BIC with ``log(n)``.
        A fit that failed (``not converged``, ``failed: ...``) reports ``nan``
        for all of them and for the abundance: never a number.
    status_ : str
        ``ok``; ``boundary: eta5=0`` (a Chao eta set to its bound);
        ``unbounded`` (the likelihood rises towards N = infinity: too few
        recaptures); ``degenerate: ...`` (the fitted rates of some empty cells
        went to 0 and the unseen count with them, so N = n at the limit --
        Rcapture's "fitted rates numerically 0"; see :mod:`.recession`);
        ``rank deficient``; ``not converged``; ``failed: ... not finite``.
    usable : bool
        ``ok`` or ``boundary`` with finite figures (see :meth:`usable`).
    coef_ : pandas.Series
        The log-linear coefficients (Rcapture's ``parameters``).
    ci_abundance_ : float or None
        With ``ci="profile"``: the multinomial maximum-likelihood abundance
        behind the interval.

    References
    ----------
    Cormack, R. M. (1989). Log-linear models for capture-recapture.
    *Biometrics* 45, 395-413.

    Rivest, L.-P. and Baillargeon, S. (2007). Applications and extensions of
    Chao's moment estimator for the size of a closed population. *Biometrics*
    63, 999-1006.

    Examples
    --------
    >>> from crowdcensus.capture import load_hare
    >>> m = ClosedPopulationModel("Mh Poisson2", ci="profile").fit(load_hare())
    >>> round(m.abundance_, 1), [round(x, 1) for x in m.confidence_interval_]
    (81.5, [72.0, 94.6])
    >>> m.summary[["abundance", "stderr", "status"]].round(2)  # doctest: +NORMALIZE_WHITESPACE
                 abundance  stderr status
    model
    Mh Poisson2      81.53    5.71     ok
    """

    def __init__(
        self,
        model: str = "M0",
        interactions: str | Sequence[str] | None = None,
        ci: str | None = None,
        level: float = 0.95,
        *,
        conf_level: float | None = None,
    ) -> None:
        self.model = model
        self.interactions = interactions
        self.ci = ci
        self.level = _level_from(level, conf_level, "ClosedPopulationModel")

    # ------------------------------------------------------------------ fitting
    def _fit(self, data: CaptureData) -> None:
        name = canonical_model_name(self.model)
        if self.ci not in (None, "profile"):
            raise InputError(f"unknown interval {self.ci!r}; use 'profile'")
        if isinstance(data, CaptureFrequencies):
            if self.interactions:
                raise InputError("interactions need full capture histories, not frequencies")
            design = design_for_frequencies(name, data)
            inter: list[tuple] = []
        else:
            inter = parse_interactions(self.interactions, data.occasions)
            base, _ = split_name(name)
            if base in ("Mt", "Mth") and not inter and data.t >= TIME_EFFECTS_MIN_T:
                from crowdcensus.capture.closed.timeeffects import fit_time_effects

                self._store(name, fit_time_effects(name, data), data, inter)
                self._profile(data, inter)
                return
            design = design_for_histories(name, data, inter)
        self._store(name, fit_design(design), data, inter)
        self._profile(data, inter)

    def _store(self, name: str, fit: LogLinearFit, data: CaptureData, inter: list) -> None:
        self.name_ = name
        self.interactions_ = [":".join(data.occasions[i] for i in it) for it in inter] \
            if isinstance(data, CaptureHistories) else []
        self.fit_ = fit
        self.n_captured_ = fit.n_captured
        self.df_ = int(fit.df)
        self.status_ = fit.status
        self.abundance_, self.stderr_ = fit.abundance, fit.stderr
        self.deviance_, self.aic_, self.bic_ = fit.deviance, fit.aic, fit.bic
        if fit.unbounded and not fit.converged and _has_recaptures(data):
            # diverging with recaptures in the data: a numerical failure, not N = infinity
            self.status_ = "not converged"
        elif fit.unbounded:
            self.abundance_ = self.stderr_ = math.inf
        elif fit.degenerate:
            # the limit of the fit: nobody left unseen; no standard error at infinity
            self.abundance_, self.stderr_ = float(fit.n_captured), math.nan
        figures = {"abundance": self.abundance_, "stderr": self.stderr_,
                   "deviance": self.deviance_, "AIC": self.aic_, "BIC": self.bic_}
        if fit.unbounded or fit.degenerate:
            figures = {k: v for k, v in figures.items() if k in ("deviance", "AIC", "BIC")}
        bad = [k for k, v in figures.items() if not math.isfinite(v)]
        if self.status_ != "not converged" and bad:
            self.status_ = f"failed: {', '.join(bad)} not finite"
        if self.status_ == "not converged" or self.status_.startswith("failed"):
            # a failed fit never reports a number
            self.abundance_ = self.stderr_ = self.deviance_ = self.aic_ = self.bic_ = math.nan
        if self.status_ == "not converged" or self.status_.startswith(("failed", "degenerate")):
            self.confidence_interval_ = None  # no interval either
        self.ci_abundance_ = None
        self.ci_status_ = None
        self.data_ = data

    @property
    def usable(self) -> bool:
        """``True`` for a fit whose estimate can be used and compared: status ``ok`` or a
        Chao eta at its bound (``boundary: ...``), finite figures. Not converged, failed,
        unbounded, degenerate and rank-deficient fits are not usable."""
        self._check_fitted()
        return (self.status_ == "ok" or self.status_.startswith("boundary")) and all(
            math.isfinite(v) for v in (self.abundance_, self.stderr_, self.aic_))

    @property
    def coef_(self) -> pd.Series:
        """Estimated log-linear coefficients (Rcapture's ``parameters``), by column name."""
        import pandas as pd

        self._check_fitted()
        return pd.Series(self.fit_.coef, index=self.fit_.names, name="coef")

    def _profile(self, data: CaptureData, inter: list[tuple]) -> None:
        if self.ci != "profile":
            return
        from crowdcensus.capture.closed.profile import profile_interval

        res = profile_interval(self, data, inter, self.level)
        self.ci_abundance_, self.confidence_interval_, self.ci_status_ = res

    # ------------------------------------------------------------------ outputs
    def _label(self) -> str:
        return self.name_

    def _statistics(self) -> dict:
        stats = {"deviance": self.deviance_, "df": self.df_, "aic": self.aic_,
                 "bic": self.bic_, "status": self.status_}
        if self.ci == "profile":
            stats["ci_abundance"] = self.ci_abundance_
        return stats

    def to_row(self) -> dict:
        """The model's row in the ``models`` list of ``estimate closed --format json``."""
        self._check_fitted()
        row = {
            "model": self.name_,
            "abundance": finite_or_none(self.abundance_),
            "stderr": finite_or_none(self.stderr_),
            "deviance": finite_or_none(self.deviance_),
            "df": int(self.df_),
            "aic": finite_or_none(self.aic_),
            "bic": finite_or_none(self.bic_),
            "status": self.status_,
        }
        if self.ci == "profile":
            lo, hi = self.confidence_interval_ or (None, None)
            row.update(ci_abundance=finite_or_none(self.ci_abundance_), ci_low=finite_or_none(lo),
                       ci_high=finite_or_none(hi))
        return row

    def to_dict(self) -> dict:
        """What ``crowdcensus estimate closed FILE --model NAME --format json`` prints."""
        self._check_fitted()
        return {"schema_version": SCHEMA_VERSION, "n_captured": int(self.n_captured_),
                "models": [self.to_row()],
                "closed_forms": closed_forms_json(self.data_, self.level)}

    def fitted_frequencies(self) -> pd.DataFrame:
        """Observed and fitted number of individuals caught ``k`` times, ``k = 1..t``."""
        import pandas as pd

        self._check_fitted()
        from crowdcensus.capture.closed.timeeffects import TimeEffectsDesign

        d = self.fit_.design
        if isinstance(d, TimeEffectsDesign):
            obs, fit = d.frequencies(self.fit_)
        elif isinstance(self.data_, CaptureFrequencies):
            obs, fit = d.y, self.fit_.fitted
        else:
            k = _captures_of_groups(d)
            size = self.data_.t
            obs = np.bincount(k - 1, weights=d.y, minlength=size)
            fit = np.bincount(k - 1, weights=self.fit_.fitted, minlength=size)
        idx = pd.Index(np.arange(1, len(obs) + 1), name="k")
        return pd.DataFrame({"observed": obs, "fitted": fit}, index=idx)

    def plot(self, ax: Axes | None = None) -> Axes:
        """Observed vs fitted capture frequencies ``f_k`` (log scale); returns the Axes."""
        from crowdcensus.plotting import axes_or_new

        freq = self.fitted_frequencies()
        ax = axes_or_new(ax, (6, 4))
        ax.plot(freq.index, freq["fitted"], "-o", label="fitted", color="C0", ms=3)
        ax.plot(freq.index, freq["observed"], "s", label="observed", color="C1", ms=4)
        ax.set_yscale("symlog", linthresh=1)
        ax.set_xlabel("number of captures k")
        ax.set_ylabel("individuals caught k times")
        ax.set_title(f"{self.name_}: N = {self.abundance_:,.1f} (SE {self.stderr_:,.1f})")
        ax.legend()
        return ax


def _has_recaptures(data: CaptureData) -> bool:
    if isinstance(data, CaptureFrequencies):
        return bool(data.f[1:].sum() > 0)
    return bool(np.any(data.times_caught() > 1))


def _captures_of_groups(design) -> np.ndarray:
    """Number of captures ``k`` of each group of a history design."""
    names = design.names
    X = design.X
    if "k" in names:
        return np.rint(X[:, names.index("k")]).astype(int)
    if "recaptures" in names:
        return np.rint(X[:, names.index("recaptures")]).astype(int) + 1
    # full-table designs: time columns follow the intercept
    t = int(round(math.log2(design.n_cells + 1)))
    return np.rint(X[:, 1 : t + 1].sum(axis=1)).astype(int)


def available_models(data: CaptureData) -> tuple[str, ...]:
    """Models defined for the data: all twelve, three with 2 occasions, five on frequencies."""
    if isinstance(data, CaptureFrequencies):
        return FREQUENCY_MODELS if data.kmax > 2 else ("M0",)
    return TWO_OCCASION_MODELS if data.t == 2 else MODEL_NAMES


@dataclass
class ClosedModelTable:
    """Several fitted models side by side (Rcapture's ``closedp`` table)."""

    models: list[ClosedPopulationModel]
    n_captured: int
    skipped: dict[str, str]
    #: The data and the level, for the closed forms of :meth:`to_dict`.
    data: CaptureData | None = None
    level: float = 0.95

    @property
    def summary(self) -> pd.DataFrame:
        """One row per fitted model (see :attr:`ClosedPopulationModel.summary`)."""
        import pandas as pd

        if not self.models:
            return pd.DataFrame(columns=["abundance", "stderr", "ci_low", "ci_high"])
        frame = pd.concat([m.summary for m in self.models])
        frame.attrs["level"] = self.models[0].level
        return frame

    def usable(self) -> tuple[list[ClosedPopulationModel], dict[str, str]]:
        """The usable, distinct models and why each other one is left out (see
        :func:`crowdcensus.capture.closed.comparison.distinct_usable_models`)."""
        from crowdcensus.capture.closed.comparison import distinct_usable_models

        return distinct_usable_models(self.models)

    def best(self, criterion: str = "aic") -> ClosedPopulationModel:
        """The usable model with the smallest AIC (or BIC)."""
        attr = {"aic": "aic_", "bic": "bic_"}[criterion.lower()]
        ok, _ = self.usable()
        if not ok:
            raise InputError("no model gives a usable estimate for these data")
        return min(ok, key=lambda m: getattr(m, attr))

    def to_dict(self, bias_corrected: list | None = None) -> dict:
        """What ``crowdcensus estimate closed FILE --format json`` prints: the models,
        the closed forms (``closed_forms``) and, when given, the bias-corrected
        estimates (``bias_corrected``, see :mod:`.bias_corrected`)."""
        out = {"schema_version": SCHEMA_VERSION, "n_captured": int(self.n_captured),
               "models": [m.to_row() for m in self.models]}
        if self.data is not None:
            out["closed_forms"] = closed_forms_json(self.data, self.level)
        if bias_corrected is not None:
            out["bias_corrected"] = [est.to_dict() for est in bias_corrected]
        return out

    def __getitem__(self, name: str) -> ClosedPopulationModel:
        name = canonical_model_name(name)
        for m in self.models:
            if m.name_ == name:
                return m
        raise KeyError(name)


def fit_closed_models(
    data: CaptureData,
    models: Sequence[str] | None = None,
    interactions: str | Sequence[str] | None = None,
    ci: str | None = None,
    level: float = 0.95,
    *,
    conf_level: float | None = None,
) -> ClosedModelTable:
    """Fit every closed model defined for the data (or those named).

    Models that cannot be fitted here (a full table too large for ``t``,
    interactions on a behavioural model) are listed in ``skipped`` with the
    reason, not silently dropped.

    >>> from crowdcensus.capture import load_hare
    >>> table = fit_closed_models(load_hare(), models=["M0", "Mh Chao (LB)"])
    >>> table.summary["abundance"].round(1).to_dict()
    {'M0': 75.4, 'Mh Chao (LB)': 79.8}
    """
    level = _level_from(level, conf_level, "fit_closed_models")
    from crowdcensus.errors import ModelError

    wanted = available_models(data) if models is None else [canonical_model_name(m)
                                                            for m in models]
    if models is not None:
        allowed = available_models(data)
        for m in wanted:
            if m not in allowed:
                raise InputError(f"model {m} is not defined for these data "
                                 f"(available: {', '.join(allowed)})")
    fitted, skipped = [], {}
    for name in wanted:
        if interactions and split_name(name)[0] in ("Mb", "Mbh"):
            if models is not None:   # asked for by name: an error, not an empty table
                raise InputError(f"interactions cannot be added to behavioural models "
                                 f"({name}); leave out --interactions or choose another "
                                 "model")
            skipped[name] = "interactions cannot be added to behavioural models"
            continue
        try:
            fitted.append(
                ClosedPopulationModel(name, interactions, ci, level).fit(data)
            )
        except ModelError as exc:
            if models is not None:
                raise
            skipped[name] = str(exc)
        except (np.linalg.LinAlgError, FloatingPointError, OverflowError) as exc:
            skipped[name] = f"numerical failure ({exc})"
    n = data.n_captured
    return ClosedModelTable(fitted, n, skipped, data, level)


def closed_forms_json(data: CaptureData, level: float) -> list[dict]:
    """The ``closed_forms`` key of the JSON output: the closed forms the text prints
    (:func:`.forms.closed_form_estimates`), each with its interval's ``level``."""
    from crowdcensus.capture.closed.forms import closed_form_estimates

    return [{**est.to_dict(), "level": level} for est in closed_form_estimates(data, level)]
