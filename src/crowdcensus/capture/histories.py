"""Capture histories: who was seen on which occasion.

Two data shapes feed the capture--recapture estimators:

- :class:`CaptureHistories` -- one 0/1 history per individual over ``t``
  occasions, stored as the distinct histories and how many individuals share
  each (a frequency table). Histories with no capture are dropped.
- :class:`CaptureFrequencies` -- only the number of individuals caught
  exactly ``k`` times (``f_k``), for ``t`` occasions or for continuous time
  (``t = inf``).

Both are immutable; every estimator reads them, none modifies them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from crowdcensus.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

#: Column names recognised as a count column when none is given (any case).
FREQ_COLUMN_NAMES = ("freq", "count", "n", "frequency")


#: Month names and abbreviations, English and French, that may name a wave.
MONTHS = {
    name: i + 1 for i, names in enumerate([
        ("january", "jan", "janvier", "janv"), ("february", "feb", "février", "fevrier",
                                                "févr", "fevr", "fév", "fev"),
        ("march", "mar", "mars"), ("april", "apr", "avril", "avr"), ("may", "mai"),
        ("june", "jun", "juin"), ("july", "jul", "juillet", "juil"),
        ("august", "aug", "août", "aout"), ("september", "sep", "sept", "septembre"),
        ("october", "oct", "octobre"), ("november", "nov", "novembre"),
        ("december", "dec", "décembre", "decembre", "déc")])
    for name in names}
_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})\b")


def _month_date(text: str) -> tuple[int, int, int] | None:
    """(year or 0, month, day or 1) of a label made of one month's name and numbers
    (``"mai 2025"``, ``"21 May"``, ``"June"``), else None."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    if len(words) != 1 or words[0] not in MONTHS:   # a month and numbers, nothing else
        return None
    months = [MONTHS[words[0]]]
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    years = [n for n in numbers if n >= 1000]
    days = [n for n in numbers if 1 <= n <= 31]
    if len(years) > 1 or len(days) > 1 or len(numbers) != len(years) + len(days):
        return None
    return (years[0] if years else 0, months[0], days[0] if days else 1)


def _across_new_year(dates: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Year-less (0, month, day) dates with the year rolled where a study's waves most
    plausibly crossed New Year: at the longest stretch of the calendar (taken round the
    year) that no wave falls in, when it is longer than the one from the last date to the
    first (``novembre, décembre, janvier``: January after December). A study's waves span
    less than a year, so the longest empty stretch is the time between its last wave and
    its first.

    >>> [m for _, m, _ in sorted(_across_new_year([(0, 1, 1), (0, 11, 1), (0, 12, 1)]))]
    [11, 12, 1]
    """
    day = [31 * (m - 1) + d for _, m, d in dates]
    ordered = sorted(set(day))
    if len(ordered) < 2:
        return dates
    gaps = [b - a for a, b in zip(ordered, ordered[1:], strict=False)]
    widest = max(range(len(gaps)), key=gaps.__getitem__)
    if gaps[widest] <= ordered[0] + 372 - ordered[-1]:
        return dates
    first = ordered[widest + 1]          # the study's first wave: the year runs on before it
    return [(0 if x >= first else 1, m, d) for x, (_, m, d) in zip(day, dates, strict=True)]


def calendar_keys(labels: Sequence[str]) -> list[tuple[int, int, int]] | None:
    """Each label's (year, month, day) when every label is a date written day first or
    month first (``"28/05/2025"``, ``"05/28/2025"``) or names a month (English or
    French: ``"mai 2025"``, ``"21 May"``), else None. The order of numeric dates is the
    one the labels show (a first number above 12 is a day, a second one is a day);
    where none shows it and the two readings order the labels differently, None. Months
    named without a year run across New Year where the calendar's longest stretch with no
    wave says the study did (:func:`_across_new_year`: ``novembre``, ``décembre``,
    ``janvier`` in that order).

    >>> calendar_keys(["28/05/2025", "04/06/2025"])
    [(2025, 5, 28), (2025, 6, 4)]
    >>> calendar_keys(["juin 2025", "May 2025"]), calendar_keys(["w1", "May 2025"])
    ([(2025, 6, 1), (2025, 5, 1)], None)
    """
    texts = [str(x) for x in labels]
    if not texts:
        return None
    months = [_month_date(t) for t in texts]
    if all(m is not None for m in months):
        if len({m[0] == 0 for m in months}) > 1:   # some with a year, some without
            return None
        return months if months[0][0] else _across_new_year(months)
    found = [_NUMERIC_DATE.match(t) for t in texts]
    if not all(found):
        return None
    parts = [(int(m[1]), int(m[2]), int(m[3]) + (2000 if len(m[3]) == 2 else 0))
             for m in found]
    day_first = any(a > 12 for a, _, _ in parts)
    month_first = any(b > 12 for _, b, _ in parts)
    if day_first and month_first:
        return None
    by_day = [(y, b, a) for a, b, y in parts]
    by_month = [(y, a, b) for a, b, y in parts]
    if day_first:
        return by_day
    if month_first:
        return by_month
    order_day = sorted(range(len(parts)), key=lambda i: by_day[i])
    order_month = sorted(range(len(parts)), key=lambda i: by_month[i])
    return by_day if order_day == order_month else None


def occasion_order(labels) -> list:
    """Occasion labels in their natural order.

    A label that reads as a number sorts by its value (``"2"`` before ``"10"``);
    labels that are all dates written day or month first, or all name a month
    (:func:`calendar_keys`), sort in calendar order (``"28/05/2025"`` before
    ``"04/06/2025"``, ``"mai 2025"`` before ``"juin 2025"``); other labels compare
    piece by piece, their runs of digits as numbers (``"w2"`` before ``"w10"``,
    ``"wave 9"`` before ``"wave 10"``, ISO dates in date order). A plain string sort
    puts ``"w10"`` second of ten waves, and an alphabetical one April before January,
    which breaks every model in which the waves' order matters (arrivals and
    departures, a behavioural effect after a first capture).
    """

    def key(label):
        text = str(label)
        try:
            return (0, float(text), ())
        except ValueError:
            parts = re.split(r"(\d+)", text)
            return (1, 0.0, tuple((1, int(p), "") if p.isdigit() else (0, 0, p)
                                  for p in parts if p))

    labels = list(labels)
    if not all(_is_number(x) for x in labels):
        dates = calendar_keys(labels)
        if dates is not None:
            return [x for _, _, x in sorted(zip(dates, map(key, labels), labels,
                                                strict=True))]
    return sorted(labels, key=key)


def _stripped(values: pd.Series) -> pd.Series:
    """``values`` with the spaces around each text value removed."""
    import pandas as pd

    if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
        return values
    codes, uniques = pd.factorize(values)
    clean = np.array([u.strip() if isinstance(u, str) else u for u in uniques], dtype=object)
    return pd.Series(clean[codes], index=values.index, name=values.name)


def _is_number(label) -> bool:
    try:
        float(str(label))
    except ValueError:
        return False
    return True


def _aggregate_rows(matrix: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a 0/1 matrix with the summed weights of each.

    Rows are packed into 64-bit words (one word holds 64 occasions), so that
    finding the distinct histories is an integer sort.
    """
    n_rows, t = matrix.shape
    if n_rows == 0:
        return np.zeros((0, t), dtype=np.uint8), np.zeros(0, dtype=np.int64)
    packed = np.packbits(matrix.astype(np.uint8, copy=False), axis=1)
    n_words = -(-packed.shape[1] // 8)
    padded = np.zeros((n_rows, n_words * 8), dtype=np.uint8)
    padded[:, : packed.shape[1]] = packed
    words = padded.view(np.uint64)
    if n_words == 1:
        uniq, inverse = np.unique(words[:, 0], return_inverse=True)
        uniq = uniq[:, None]
    else:
        uniq, inverse = np.unique(words, axis=0, return_inverse=True)
    sums = np.bincount(inverse.ravel(), weights=weights, minlength=len(uniq))
    rows = np.unpackbits(
        np.ascontiguousarray(uniq).view(np.uint8).reshape(len(uniq), n_words * 8),
        axis=1, count=t,
    )
    return rows.astype(np.uint8), np.rint(sums).astype(np.int64)


def not_a_number_shown(values) -> str:
    """`` (e.g. 'x')`` for the first cell of ``values`` that is not a number (the cell
    that makes a column text, not the first cell, which may be a number), or ``""``.

    >>> not_a_number_shown(np.array(["1", "0", "x"], dtype=object))
    " (e.g. 'x')"
    """
    for x in values:
        if x is None or (isinstance(x, float) and x != x):
            continue
        try:
            float(x)
        except (TypeError, ValueError):
            return f" (e.g. {str(x)!r})"
    return ""


@dataclass(frozen=True)
class CaptureHistories:
    """A frequency table of observed capture histories.

    Build one with :meth:`from_matrix`, :meth:`from_frame` or
    :meth:`from_events`, or read a file with :func:`crowdcensus.capture.read_histories`.

    Parameters
    ----------
    histories : ndarray of shape (k, t), 0/1
        Distinct histories with at least one capture.
    counts : ndarray of shape (k,)
        Number of individuals with each history (all positive).
    occasions : tuple of str
        Names of the ``t`` occasions (columns).
    """

    histories: np.ndarray
    counts: np.ndarray
    occasions: tuple[str, ...]
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_matrix(
        cls,
        matrix: np.ndarray | Sequence[Sequence[int]],
        counts: np.ndarray | Sequence[int] | None = None,
        occasions: Sequence[str] | None = None,
    ) -> CaptureHistories:
        """Build from a 0/1 matrix (one row per individual, or per history with ``counts``)."""
        arr = np.asarray(matrix)
        if arr.ndim != 2:
            raise InputError("capture histories must be a two-dimensional 0/1 table")
        if arr.shape[0] == 0:
            raise InputError("no data: the capture table has no rows")
        t = arr.shape[1]
        names = tuple(occasions) if occasions is not None else tuple(f"c{j + 1}" for j in range(t))
        if len(names) != t:
            raise InputError(f"{len(names)} occasion names given for {t} columns")
        if t < 2:
            raise InputError(
                f"capture-recapture needs at least 2 occasions; the table has {t}"
            )
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)):
                j = int(np.argwhere(~np.isfinite(arr))[0][1])
                raise InputError(f"column '{names[j]}' has a missing value; capture "
                                 "columns must hold 0 or 1")
        elif arr.dtype.kind not in "iub":
            raise InputError("capture columns must hold 0 or 1")
        bad = (arr != 0) & (arr != 1)
        if bad.any():
            i, j = (int(x) for x in np.argwhere(bad)[0])
            raise InputError(
                f"column '{names[j]}' has the value {arr[i, j].item()!r} at row {i + 1}; "
                "capture columns must hold 0 or 1"
            )
        if counts is None:
            weights = np.ones(arr.shape[0])
        else:
            weights = _validate_counts(np.asarray(counts), "count")
            if weights.shape[0] != arr.shape[0]:
                raise InputError("the count column and the capture table differ in length")
        keep = arr.any(axis=1) & (weights > 0)
        rows, sums = _aggregate_rows(arr[keep], weights[keep].astype(float))
        if rows.shape[0] == 0:
            raise InputError("no data: no individual was captured on any occasion")
        return cls(rows, sums, names)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, freq: str | None = None) -> CaptureHistories:
        """Build from a DataFrame: one 0/1 column per occasion, optionally a count column.

        ``freq`` names the count column; when it is ``None`` a column called
        freq, count, n or frequency (any case) is used if present.
        """
        import pandas as pd

        if frame.shape[0] == 0:
            raise InputError("no data: the table has no rows")
        freq_col = find_freq_column(frame.columns, freq)
        occ = [c for c in frame.columns if c != freq_col]
        counts = None if freq_col is None else frame[freq_col].to_numpy()
        values = frame[occ]
        non_numeric = [c for c in occ if not pd.api.types.is_numeric_dtype(values[c])]
        if non_numeric:
            c = non_numeric[0]
            shown = not_a_number_shown(values[c].to_numpy())
            raise InputError(
                f"column '{c}' is not numeric{shown}; capture columns must hold 0 or 1"
                + ("" if freq_col else " (name the count column with --freq)")
            )
        return cls.from_matrix(values.to_numpy(), counts, [str(c) for c in occ])

    @classmethod
    def from_columns(
        cls, columns: Mapping[str, np.ndarray], freq: str | None = None
    ) -> CaptureHistories:
        """Build from named columns (arrays of one length): 0/1 occasions, optionally a count.

        The same rules as :meth:`from_frame`, without pandas (the fast path of
        :func:`crowdcensus.capture.read_histories`).
        """
        names = [str(c) for c in columns]
        arrays = [np.asarray(a) for a in columns.values()]
        if not arrays or len(arrays[0]) == 0:
            raise InputError("no data: the table has no rows")
        freq_col = find_freq_column(names, freq)
        occ = [j for j, c in enumerate(names) if c != freq_col]
        for j in occ:
            if arrays[j].dtype.kind not in "iufb":
                shown = not_a_number_shown(arrays[j])
                raise InputError(
                    f"column '{names[j]}' is not numeric{shown}; capture columns must hold 0 or 1"
                    + ("" if freq_col else " (name the count column with --freq)")
                )
        counts = None if freq_col is None else arrays[names.index(freq_col)]
        chosen = [arrays[j] for j in occ]
        if chosen and all(a.dtype.kind in "iub" and a.size and a.min() >= 0 and a.max() <= 1
                          for a in chosen):
            chosen = [a.astype(np.uint8, copy=False) for a in chosen]  # 8 times less to scan
        matrix = np.column_stack(chosen) if chosen else np.zeros((len(arrays[0]), 0))
        return cls.from_matrix(matrix, counts, [names[j] for j in occ])

    @classmethod
    def from_events(
        cls,
        events: pd.DataFrame,
        individual: str,
        occasion: str,
        occasions: Sequence | None = None,
    ) -> CaptureHistories:
        """Turn an event log (one row per individual and occasion) into histories.

        Parameters
        ----------
        events : DataFrame
            One row per capture event; repeated rows count once.
        individual, occasion : str
            Column holding the individual's identifier (e.g. a hashed worker
            ID) and the occasion (wave, period...).
        occasions : sequence, optional
            The full ordered list of occasions, so that an occasion where
            nobody was caught still counts. By default, the distinct values
            found in the log in their natural order (:func:`occasion_order`).
        """
        import pandas as pd

        for col in (individual, occasion):
            if col not in events.columns:
                raise InputError(
                    f"missing column '{col}' in the event log (columns: "
                    f"{', '.join(map(str, events.columns))})"
                )
        ev = events[[individual, occasion]]
        if ev[individual].isna().any() or ev[occasion].isna().any():
            raise InputError(f"the event log has empty '{individual}' or '{occasion}' values")
        # a space typed or pasted around an id or a label makes no other individual or
        # occasion (each distinct value stripped once; values that are not text kept)
        ev = pd.DataFrame({c: _stripped(ev[c]) for c in (individual, occasion)})
        if len(ev) == 0:
            raise InputError("no data: the event log has no rows")
        order = (list(occasions) if occasions is not None
                 else occasion_order(ev[occasion].unique()))
        pos = {o: j for j, o in enumerate(order)}
        unknown = set(ev[occasion].unique()) - set(pos)
        if unknown:
            raise InputError(f"occasion {sorted(map(str, unknown))[0]!r} is not in the list "
                             "of occasions given")
        ind_codes, _ = pd.factorize(ev[individual])
        occ_codes = ev[occasion].map(pos).to_numpy()
        mat = np.zeros((ind_codes.max() + 1, len(order)), dtype=np.uint8)
        mat[ind_codes, occ_codes] = 1
        return cls.from_matrix(mat, occasions=[str(o) for o in order])

    # ------------------------------------------------------------ basic facts
    @property
    def t(self) -> int:
        """Number of occasions."""
        return self.histories.shape[1]

    @property
    def n_captured(self) -> int:
        """Number of distinct individuals caught at least once."""
        return int(self.counts.sum())

    @property
    def n_distinct(self) -> int:
        """Number of distinct observed histories."""
        return self.histories.shape[0]

    def times_caught(self) -> np.ndarray:
        """Number of captures of each distinct history."""
        return self.histories.sum(axis=1).astype(np.int64)

    def per_occasion(self) -> np.ndarray:
        """``n_j``: number of individuals caught on occasion ``j``."""
        return self.counts @ self.histories.astype(np.int64)

    def capture_frequencies(self) -> np.ndarray:
        """``f_k`` for ``k = 1..t``: number of individuals caught exactly ``k`` times."""
        return np.bincount(self.times_caught(), weights=self.counts, minlength=self.t + 1)[
            1:
        ].astype(np.int64)

    def first_capture(self) -> np.ndarray:
        """Occasion (1-based) of each distinct history's first capture."""
        return np.argmax(self.histories == 1, axis=1) + 1

    def last_capture(self) -> np.ndarray:
        """Occasion (1-based) of each distinct history's last capture."""
        return self.t - np.argmax(self.histories[:, ::-1] == 1, axis=1)

    def first_captures(self) -> np.ndarray:
        """``u_j``: number of individuals caught for the first time on occasion ``j``."""
        return np.bincount(self.first_capture() - 1, weights=self.counts, minlength=self.t).astype(
            np.int64
        )

    def last_captures(self) -> np.ndarray:
        """``v_j``: number of individuals caught for the last time on occasion ``j``."""
        return np.bincount(self.last_capture() - 1, weights=self.counts, minlength=self.t).astype(
            np.int64
        )

    def descriptive(self) -> pd.DataFrame:
        """Rcapture's descriptive statistics: ``fi``, ``ui``, ``vi``, ``ni`` for ``i = 1..t``."""
        import pandas as pd

        return pd.DataFrame(
            {
                "fi": self.capture_frequencies(),
                "ui": self.first_captures(),
                "vi": self.last_captures(),
                "ni": self.per_occasion(),
            },
            index=pd.Index(range(1, self.t + 1), name="i"),
        )

    def to_frequencies(self) -> CaptureFrequencies:
        """Collapse to frequency-of-capture data (``f_k``)."""
        return CaptureFrequencies(self.capture_frequencies(), self.t)

    def expand(self) -> np.ndarray:
        """One row per individual (for tests and small data)."""
        return np.repeat(self.histories, self.counts, axis=0)

    def to_frame(self, freq: str = "freq") -> pd.DataFrame:
        """The frequency table as a DataFrame (one row per distinct history)."""
        import pandas as pd

        df = pd.DataFrame(self.histories.astype(int), columns=list(self.occasions))
        df[freq] = self.counts
        return df

    def codes(self) -> np.ndarray:
        """Integer code of each distinct history, occasion 1 as the lowest bit (t <= 62)."""
        if self.t > 62:
            raise InputError("history codes need at most 62 occasions")
        weights = np.left_shift(np.int64(1), np.arange(self.t, dtype=np.int64))
        return self.histories.astype(np.int64) @ weights

    def full_table(self) -> np.ndarray:
        """Counts of all ``2**t - 1`` possible non-empty histories, indexed by ``code - 1``."""
        table = np.zeros(2**self.t - 1, dtype=np.float64)
        np.add.at(table, self.codes() - 1, self.counts)
        return table


def _validate_counts(values: np.ndarray, what: str) -> np.ndarray:
    if values.dtype.kind not in "iufb":
        raise InputError(f"the {what} column is not numeric; counts must be whole numbers >= 0")
    v = values.astype(float)
    if not np.all(np.isfinite(v)):
        i = int(np.argwhere(~np.isfinite(v))[0][0])
        raise InputError(f"the {what} column has a missing value at row {i + 1}")
    if (v < 0).any():
        i = int(np.argwhere(v < 0)[0][0])
        raise InputError(f"the {what} column has a negative value ({values[i]}) at row {i + 1}")
    if (v != np.round(v)).any():
        i = int(np.argwhere(v != np.round(v))[0][0])
        raise InputError(
            f"the {what} column has a non-integer value ({values[i]}) at row {i + 1}"
        )
    return v.astype(np.int64)


def find_freq_column(columns: Sequence, freq: str | None) -> str | None:
    """The count column: ``freq`` if given (must exist), else a recognised name, else None."""
    cols = [str(c) for c in columns]
    if freq is not None:
        if freq not in cols:
            raise InputError(f"missing column '{freq}' (columns: {', '.join(cols)})")
        return freq
    found = [c for c in cols if c.lower() in FREQ_COLUMN_NAMES]
    if len(found) > 1:
        raise InputError(
            f"several count columns ({', '.join(found)}); choose one with --freq"
        )
    return found[0] if found else None


@dataclass(frozen=True)
class CaptureFrequencies:
    """Frequency-of-capture data: ``f[k-1]`` individuals caught exactly ``k`` times.

    Parameters
    ----------
    f : ndarray
        ``f_1, f_2, ...``; for finite ``t`` its length is ``t``.
    t : int or float
        Number of capture occasions, or ``math.inf`` for continuous time
        (captures counted over a period, any number possible).
    """

    f: np.ndarray
    t: float

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, t: float, nbcap: str = "nbcap", freq: str | None = None
    ) -> CaptureFrequencies:
        """Build from a table of ``nbcap, freq`` rows."""
        if frame.shape[0] == 0:
            raise InputError("no data: the table has no rows")
        if nbcap not in frame.columns:
            raise InputError(
                f"missing column '{nbcap}' (frequency-of-capture data needs columns nbcap,freq)"
            )
        freq_col = find_freq_column([c for c in frame.columns if c != nbcap], freq)
        if freq_col is None:
            raise InputError("missing count column (expected freq, count, n or frequency)")
        k = _validate_counts(frame[nbcap].to_numpy(), nbcap)
        w = _validate_counts(frame[freq_col].to_numpy(), "count")
        return cls.from_counts(k, w, t)

    @classmethod
    def from_counts(cls, nbcap: np.ndarray, freq: np.ndarray, t: float) -> CaptureFrequencies:
        nbcap = np.asarray(nbcap, dtype=np.int64)
        freq = np.asarray(freq, dtype=np.int64)
        if t != math.inf:
            if t != int(t) or t < 2:
                raise InputError(f"--t must be a whole number >= 2 or 'inf' (got {t})")
            t = int(t)
        keep = (nbcap > 0) & (freq > 0)
        nbcap, freq = nbcap[keep], freq[keep]
        if nbcap.size == 0:
            raise InputError("no data: no individual was captured")
        if t != math.inf and nbcap.max() > t:
            raise InputError(f"nbcap value {nbcap.max()} exceeds the number of occasions t={t}")
        size = int(t) if t != math.inf else int(nbcap.max())
        f = np.bincount(nbcap - 1, weights=freq, minlength=size).astype(np.int64)
        return cls(f, t)

    @property
    def n_captured(self) -> int:
        return int(self.f.sum())

    @property
    def kmax(self) -> int:
        """Largest number of captures with a cell in the table."""
        return len(self.f)
