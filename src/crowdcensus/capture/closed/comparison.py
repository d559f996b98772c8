"""Which fitted closed-population models may be compared, averaged or selected.

A model enters a comparison (AIC selection, model averaging) when its fit is
*usable* -- status ``ok`` or a Chao eta at its bound (``boundary: ...``), with a
finite abundance, standard error and AIC -- and when it is *distinct*: the same
fit reached under two names counts once. That happens whenever a model reduces to
another on the data: Mh Chao (LB) with every eta set to 0 *is* M0, Mth Chao (LB)
with every eta at 0 *is* Mt. Two fits are taken as the same when their AIC,
abundance and standard error agree to a relative ``1e-6`` (and their deviance and
degrees of freedom, when the fits carry them): the AIC fixes the maximised
likelihood and the number of parameters, the abundance and its standard error fix
the estimate; distinct models practically never agree on all of them. The first
model in the table's order is kept (M0 before Mh Chao, Mt before Mth Chao).

Left out, with the reason: fits that did not converge or failed, unbounded fits
(the data cannot bound N), degenerate fits (N = n at the limit of fitted rates
going to 0, see :mod:`.recession`), rank-deficient ones, and duplicates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

#: Relative agreement under which two fits are the same fit.
SAME_FIT_RTOL = 1e-6


def _name(m: Any) -> str:
    return str(getattr(m, "name_", None) or getattr(m, "name", "?"))


def _close(a: float, b: float, scale: float = 1.0) -> bool:
    return abs(a - b) <= SAME_FIT_RTOL * max(abs(a), abs(b), scale)


def same_fit(a: Any, b: Any) -> bool:
    """Whether two fitted models are the same fit (see the module docstring)."""
    for attr in ("aic_", "abundance_", "stderr_"):
        if not _close(float(getattr(a, attr)), float(getattr(b, attr))):
            return False
    if hasattr(a, "df_") and hasattr(b, "df_") and int(a.df_) != int(b.df_):
        return False
    if hasattr(a, "deviance_") and hasattr(b, "deviance_"):
        return _close(float(a.deviance_), float(b.deviance_))
    return True


def usability(m: Any) -> str | None:
    """``None`` if the fit is usable, else why not (its status, or the figure at fault)."""
    status = str(getattr(m, "status_", "ok"))
    if not (status == "ok" or status.startswith("boundary")):
        return status
    bad = [k for k in ("abundance_", "stderr_", "aic_")
           if not math.isfinite(float(getattr(m, k)))]
    return f"{', '.join(b.rstrip('_') for b in bad)} not finite" if bad else None


def distinct_usable_models(models: Iterable[Any]) -> tuple[list[Any], dict[str, str]]:
    """The usable, distinct models of a fitted table, and why each other one is left out.

    Parameters
    ----------
    models : iterable
        Fitted models (a :class:`~crowdcensus.capture.closed.ClosedModelTable`'s
        ``models``, or any objects with ``name_``, ``abundance_``, ``stderr_``,
        ``aic_`` and ``status_``; ``df_`` and ``deviance_`` are used when present).

    Returns
    -------
    kept : list
        The models to compare, in the given order.
    left_out : dict
        Model name -> reason (``"degenerate: ..."``, ``"same fit as M0"``...).
    """
    kept: list[Any] = []
    left_out: dict[str, str] = {}
    for m in models:
        why = usability(m)
        if why is None:
            twin = next((k for k in kept if same_fit(k, m)), None)
            if twin is not None:
                why = f"same fit as {_name(twin)}"
        if why is None:
            kept.append(m)
        else:
            left_out[_name(m)] = why
    return kept, left_out
