"""Capture histories with individual covariates (the input of Huggins' models).

A :class:`CovariateHistories` keeps one row per individual (or per group of
individuals sharing a history and covariate values, with a count): the 0/1
captures, the count, and the covariate design matrix. Numeric covariates enter
as they are; categorical ones (text, booleans stored as text, pandas
``category``) are one-hot encoded with the first level (in sorted order, as R's
``factor``) as the baseline, named ``column[level]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crowdcensus.capture.histories import (
    CaptureHistories,
    _validate_counts,
    find_freq_column,
    not_a_number_shown,
)
from crowdcensus.errors import InputError

#: How many row numbers an error message lists before "and N more".
ROWS_SHOWN = 5


def _rows_text(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:ROWS_SHOWN])
    more = len(rows) - ROWS_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def parse_covariates(value: str | Sequence[str] | None) -> list[str]:
    """``"a,b"`` or ``["a", "b"]`` -> ``["a", "b"]`` (blank names and repeats rejected)."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [str(v).strip() for v in items]
    if any(not n for n in names):
        raise InputError("--covariates has an empty name; give column names separated by commas")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"covariate '{dup[0]}' is named twice")
    return names


def _is_categorical(series: pd.Series) -> bool:
    dt = series.dtype
    if isinstance(dt, pd.CategoricalDtype):
        return True
    if dt.kind == "O":
        return pd.api.types.infer_dtype(series, skipna=True) in ("string", "boolean", "empty")
    return pd.api.types.is_string_dtype(dt)


def _is_numeric(series: pd.Series) -> bool:
    dt = series.dtype
    return (pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)) \
        and not pd.api.types.is_complex_dtype(dt)


def covariate_design(
    frame: pd.DataFrame, covariates: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """Design matrix (no intercept) of the covariate columns of ``frame``.

    Numeric columns are used as they are (booleans as 0/1); categorical columns
    are one-hot encoded, first sorted level dropped. A column that is neither
    (dates, durations, mixed objects) or holds a missing value raises
    :class:`~crowdcensus.errors.InputError` naming the column and rows (numbered
    from 1, the header not counted).
    """
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for col in covariates:
        s = frame[col]
        missing = np.flatnonzero(s.isna().to_numpy())
        if missing.size:
            raise InputError(
                f"covariate '{col}' is missing on row{'s' if missing.size > 1 else ''} "
                f"{_rows_text(missing + 1)}; fill or drop those rows"
            )
        if _is_numeric(s):
            values = s.to_numpy(dtype=float)
            if not np.all(np.isfinite(values)):
                bad = np.flatnonzero(~np.isfinite(values))
                raise InputError(f"covariate '{col}' is infinite on rows {_rows_text(bad + 1)}")
            blocks.append(values[:, None])
            names.append(col)
        elif _is_categorical(s):
            if isinstance(s.dtype, pd.CategoricalDtype):
                levels = [lv for lv in s.cat.categories if (s == lv).any()]
            else:
                levels = sorted(s.astype(str).unique())
            if len(levels) < 2:
                raise InputError(f"covariate '{col}' has a single value ({levels[0]!r}): "
                                 "it cannot explain any difference in catchability")
            text = s.astype(str).to_numpy()
            for lv in levels[1:]:
                blocks.append((text == str(lv)).astype(float)[:, None])
                names.append(f"{col}[{lv}]")
        else:
            kind = pd.api.types.infer_dtype(s, skipna=True) if s.dtype.kind == "O" else s.dtype
            raise InputError(
                f"covariate '{col}' is neither numeric nor categorical (values of type {kind}); "
                "use numbers or text labels"
            )
    if not blocks:
        return np.zeros((len(frame), 0)), []
    return np.hstack(blocks), names


@dataclass(frozen=True)
class CovariateHistories:
    """Capture histories of individuals with their covariates.

    Parameters
    ----------
    captures : ndarray of shape (n, t), 0/1
        One row per individual (or group), each with at least one capture.
    weights : ndarray of shape (n,)
        Number of individuals on each row (1 for individual data).
    design : ndarray of shape (n, q)
        Covariate design matrix, without intercept.
    occasions : tuple of str
        Names of the ``t`` occasions.
    covariates : tuple of str
        The covariate columns as given.
    design_names : tuple of str
        Names of the ``q`` design columns (``sex``, ``age[y]``...).
    values : DataFrame
        The covariate columns of the rows kept, as read (for plots).
    rows : ndarray of shape (n,)
        Row number in the input (from 1, header not counted) of each row kept.
    """

    captures: np.ndarray
    weights: np.ndarray
    design: np.ndarray
    occasions: tuple[str, ...]
    covariates: tuple[str, ...]
    design_names: tuple[str, ...]
    values: pd.DataFrame
    rows: np.ndarray

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, covariates: str | Sequence[str] | None, freq: str | None = None
    ) -> CovariateHistories:
        """Split a table into occasions (0/1 columns), covariates and an optional count column.

        The count column is ``freq`` if given, else a column named freq, count, n or
        frequency (any case), else every row is one individual. Every other column
        that is not a covariate is an occasion. Rows with no capture or a zero count
        are left out (Huggins' likelihood is conditional on being caught).
        """
        covs = parse_covariates(covariates)
        if frame.shape[0] == 0:
            raise InputError("no data: the table has no rows")
        columns = {str(c): frame[c] for c in frame.columns}    # one Series per column
        cols = list(columns)
        unknown = [c for c in covs if c not in columns]
        if unknown:
            raise InputError(
                f"missing covariate column '{unknown[0]}' (columns: {', '.join(cols)})"
            )
        if freq is not None and freq in covs:
            raise InputError(f"column '{freq}' cannot be both the count and a covariate")
        freq_col = find_freq_column([c for c in cols if c not in covs], freq)
        occ = [c for c in cols if c not in covs and c != freq_col]
        if not occ:
            raise InputError("no occasion columns: every column is a covariate or the count")
        hint = " (every column not named as a covariate or count is an occasion)"
        for c in occ:
            if not pd.api.types.is_numeric_dtype(columns[c].dtype):
                shown = not_a_number_shown(columns[c].to_numpy())
                raise InputError(f"column '{c}' is not numeric{shown}; capture columns must "
                                 f"hold 0 or 1{hint}")
        matrix = np.column_stack([columns[c].to_numpy() for c in occ])
        counts = None if freq_col is None else columns[freq_col].to_numpy()
        try:  # the usual checks of 0/1 values and counts, with the usual messages
            CaptureHistories.from_matrix(matrix, counts, occ)
        except InputError as exc:
            if "capture columns" not in str(exc):
                raise
            raise InputError(f"{exc}{hint}") from None
        weights = (np.ones(len(frame)) if counts is None
                   else _validate_counts(counts, "count").astype(float))
        values = pd.DataFrame({c: columns[c].to_numpy() for c in covs}, index=range(len(frame)))
        design, names = covariate_design(values, covs)
        return cls._build(matrix.astype(np.uint8), weights, design, occ, covs, names, values)

    @classmethod
    def from_arrays(
        cls,
        captures: np.ndarray | Sequence[Sequence[int]],
        covariates: pd.DataFrame | None = None,
        weights: np.ndarray | Sequence[float] | None = None,
        occasions: Sequence[str] | None = None,
    ) -> CovariateHistories:
        """Build from a 0/1 matrix, a DataFrame of covariates (same rows) and counts."""
        mat = np.asarray(captures)
        if mat.ndim != 2:
            raise InputError("captures must be a two-dimensional 0/1 table")
        occ = list(occasions) if occasions is not None else [f"c{j + 1}" for j in
                                                            range(mat.shape[1])]
        cov = covariates if covariates is not None else pd.DataFrame(index=range(len(mat)))
        if len(cov) != len(mat):
            raise InputError("the covariates and the capture table differ in length")
        CaptureHistories.from_matrix(mat, weights, occ)  # the usual checks
        w = np.ones(len(mat)) if weights is None else np.asarray(weights, dtype=float)
        covs = [str(c) for c in cov.columns]
        cov = cov.set_axis(covs, axis=1).reset_index(drop=True)
        design, names = covariate_design(cov, covs)
        return cls._build(mat.astype(np.uint8), w, design, occ, covs, names, cov)

    @classmethod
    def _build(cls, captures, weights, design, occ, covs, names, values) -> CovariateHistories:
        keep = captures.any(axis=1) & (weights > 0)
        if not keep.any():
            raise InputError("no data: no individual was captured on any occasion")
        rows = np.flatnonzero(keep) + 1
        return cls(captures[keep], weights[keep], design[keep], tuple(occ), tuple(covs),
                   tuple(names), values[keep].reset_index(drop=True), rows)

    @classmethod
    def from_histories(cls, data: CaptureHistories) -> CovariateHistories:
        """Histories without covariates (one row per distinct history, with its count)."""
        k = data.n_distinct
        return cls(data.histories.astype(np.uint8), data.counts.astype(float),
                   np.zeros((k, 0)), tuple(data.occasions), (), (), pd.DataFrame(index=range(k)),
                   np.arange(1, k + 1))

    @property
    def t(self) -> int:
        """Number of occasions."""
        return self.captures.shape[1]

    @property
    def n_captured(self) -> int:
        """Number of individuals caught at least once (sum of the counts)."""
        return int(round(self.weights.sum()))


def read_covariate_histories(
    path, covariates: str | Sequence[str], freq: str | None = None
) -> CovariateHistories:
    """Read a CSV or Parquet file of 0/1 occasion columns, covariate columns and maybe counts."""
    from crowdcensus.tables import read_table

    return CovariateHistories.from_frame(read_table(path), covariates, freq=freq)
