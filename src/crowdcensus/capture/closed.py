"""Closed-population capture--recapture estimators with Rcapture's model names.

>>> from crowdcensus.capture import load_hare
>>> from crowdcensus.capture.closed import ClosedPopulationModel, fit_closed_models
>>> m = ClosedPopulationModel("Mh Chao (LB)").fit(load_hare())
>>> round(m.abundance_, 2), round(m.stderr_, 2)
(79.84, 6.37)
>>> table = fit_closed_models(load_hare())        # the twelve models
>>> table.best().name
'Mth Poisson2'

The estimators follow the log-linear (Poisson regression) form of Rivest &
Baillargeon's Rcapture (``closedp.t``, ``closedp.0``, ``closedpCI.t``): see
:mod:`.closed_design` for the models and :mod:`.profile` for the intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crowdcensus.capture.closed_design import (
    FREQUENCY_MODELS,
    MODEL_NAMES,
    TWO_OCCASION_MODELS,
    canonical_model_name,
    design_for_frequencies,
    design_for_histories,
    parse_interactions,
    split_name,
)
from crowdcensus.capture.histories import CaptureFrequencies, CaptureHistories
from crowdcensus.capture.loglinear import LogLinearFit, fit_design
from crowdcensus.errors import InputError

CaptureData = CaptureHistories | CaptureFrequencies
#: From this many occasions on, Mt/Mth are fitted on sufficient statistics (the full
#: table is faster below it; both give the same estimates).
TIME_EFFECTS_MIN_T = 10


class ClosedPopulationModel:
    """One closed-population model (M0, Mt, Mh..., Mth..., Mb, Mbh).

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
        ``"profile"`` adds the 95% profile-likelihood interval of the
        multinomial likelihood (Rcapture's ``closedpCI``).
    conf_level : float
        Confidence level of the interval.

    Attributes (after :meth:`fit`)
    ------------------------------
    abundance_, stderr_ : float
        Estimated population size ``N = n + exp(b0)`` (Mb/Mbh: their own
        form) and its standard error (multinomial: Poisson delta-method
        variance minus N). ``inf`` for an unbounded fit; for a degenerate
        fit the abundance is its limit ``n`` and the standard error ``nan``.
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
    confidence_interval_ : tuple of float or None
    ci_abundance_ : float or None
        The multinomial maximum-likelihood abundance behind the interval.
    """

    def __init__(
        self,
        model: str = "M0",
        interactions: str | Sequence[str] | None = None,
        ci: str | None = None,
        conf_level: float = 0.95,
    ) -> None:
        self.model = model
        self.interactions = interactions
        self.ci = ci
        self.conf_level = conf_level

    # ------------------------------------------------------------------ fitting
    def fit(self, data: CaptureData) -> ClosedPopulationModel:
        """Fit the model to capture histories or capture frequencies; returns ``self``."""
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
                from crowdcensus.capture.timeeffects import fit_time_effects

                self._store(name, fit_time_effects(name, data), data, inter)
                self._profile(data, inter)
                return self
            design = design_for_histories(name, data, inter)
        self._store(name, fit_design(design), data, inter)
        self._profile(data, inter)
        return self

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
        self.confidence_interval_ = None
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
        self._check_fitted()
        return pd.Series(self.fit_.coef, index=self.fit_.names, name="coef")

    def _profile(self, data: CaptureData, inter: list[tuple]) -> None:
        if self.ci != "profile":
            return
        from crowdcensus.capture.profile import profile_interval

        res = profile_interval(self, data, inter, self.conf_level)
        self.ci_abundance_, self.confidence_interval_, self.ci_status_ = res

    # ------------------------------------------------------------------ outputs
    @property
    def summary(self) -> pd.DataFrame:
        """One-row DataFrame: abundance, stderr, deviance, df, AIC, BIC, status (+ interval)."""
        self._check_fitted()
        return pd.DataFrame([self.to_dict()]).set_index("model")

    def to_dict(self) -> dict:
        """The model's row of ``crowdcensus estimate closed --format json``."""
        self._check_fitted()
        row = {
            "model": self.name_,
            "abundance": _num(self.abundance_),
            "stderr": _num(self.stderr_),
            "deviance": _num(self.deviance_),
            "df": int(self.df_),
            "aic": _num(self.aic_),
            "bic": _num(self.bic_),
            "status": self.status_,
        }
        if self.ci == "profile":
            lo, hi = self.confidence_interval_ or (None, None)
            row.update(ci_abundance=_num(self.ci_abundance_), ci_low=_num(lo), ci_high=_num(hi))
        return row

    def fitted_frequencies(self) -> pd.DataFrame:
        """Observed and fitted number of individuals caught ``k`` times, ``k = 1..t``."""
        self._check_fitted()
        from crowdcensus.capture.timeeffects import TimeEffectsDesign

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

    def plot(self, ax=None):
        """Observed vs fitted capture frequencies ``f_k`` (log scale); returns the Axes."""
        import matplotlib.pyplot as plt

        freq = self.fitted_frequencies()
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        ax.plot(freq.index, freq["fitted"], "-o", label="fitted", color="C0", ms=3)
        ax.plot(freq.index, freq["observed"], "s", label="observed", color="C1", ms=4)
        ax.set_yscale("symlog", linthresh=1)
        ax.set_xlabel("number of captures k")
        ax.set_ylabel("individuals caught k times")
        ax.set_title(f"{self.name_}: N = {self.abundance_:,.1f} (SE {self.stderr_:,.1f})")
        ax.legend()
        return ax

    def _check_fitted(self) -> None:
        if not hasattr(self, "fit_"):
            raise AttributeError("this model is not fitted yet: call fit(data) first")

    def __repr__(self) -> str:
        if hasattr(self, "fit_"):
            return f"<ClosedPopulationModel {self.name_}: N={self.abundance_:.2f} ({self.status_})>"
        return f"ClosedPopulationModel({self.model!r})"


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


def _num(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


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

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([m.to_dict() for m in self.models]).set_index("model")

    def usable(self) -> tuple[list[ClosedPopulationModel], dict[str, str]]:
        """The usable, distinct models and why each other one is left out (see
        :func:`crowdcensus.capture.comparison.distinct_usable_models`)."""
        from crowdcensus.capture.comparison import distinct_usable_models

        return distinct_usable_models(self.models)

    def best(self, criterion: str = "aic") -> ClosedPopulationModel:
        """The usable model with the smallest AIC (or BIC)."""
        attr = {"aic": "aic_", "bic": "bic_"}[criterion.lower()]
        ok, _ = self.usable()
        if not ok:
            raise InputError("no model gives a usable estimate for these data")
        return min(ok, key=lambda m: getattr(m, attr))

    def to_dict(self) -> dict:
        return {"n_captured": int(self.n_captured), "models": [m.to_dict() for m in self.models]}

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
    conf_level: float = 0.95,
) -> ClosedModelTable:
    """Fit every closed model defined for the data (or those named).

    Models that cannot be fitted here (a full table too large for ``t``,
    interactions on a behavioural model) are listed in ``skipped`` with the
    reason, not silently dropped.
    """
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
            skipped[name] = "interactions cannot be added to behavioural models"
            continue
        try:
            fitted.append(
                ClosedPopulationModel(name, interactions, ci, conf_level).fit(data)
            )
        except ModelError as exc:
            if models is not None:
                raise
            skipped[name] = str(exc)
        except (np.linalg.LinAlgError, FloatingPointError, OverflowError) as exc:
            skipped[name] = f"numerical failure ({exc})"
    n = data.n_captured
    return ClosedModelTable(fitted, n, skipped)
