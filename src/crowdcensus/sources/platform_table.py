"""Declared and audience figures from a table (one row per platform).

A study with many platforms can keep their figures in a CSV (or Parquet)
file named by ``platforms_file`` in the study file instead of one
``[[platforms]]`` table each. Columns (only ``name`` is required; an empty
cell is a field left out):

- ``name``
- ``declared``, ``declared_low``, ``declared_high``, ``declared_distribution``,
  ``declared_status``, ``declared_source``, ``declared_date``, ``declared_note``
- ``visitors``, ``visitors_low``, ... (the same suffixes): monthly unique visitors
- ``worker_share``, ``worker_share_low``, ... (the same suffixes)
- ``declared_active_days``: the declared figure counts the accounts active in
  that many last days before it was taken (left empty: registrations)
- ``declared_day``: the day of the reference period the declared figure was
  taken (left empty: its last day)

A group (declared, visitors, worker share) exists for a platform when its
value cell is filled. Errors name the file, the line and the column.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from crowdcensus.errors import InputError
from crowdcensus.tables import read_table

FIELDS = ("value", "low", "high", "distribution", "status", "source", "date", "note")
NUMERIC = {"value", "low", "high"}
GROUPS = {"declared": ("declared",), "visitors": ("audience", "visitors"),
          "worker_share": ("audience", "worker_share")}


def _column(prefix: str, field: str) -> str:
    return prefix if field == "value" else f"{prefix}_{field}"


#: Column name -> path inside a platform entry.
#: Numbers that are fields of the platform entry itself.
PLAIN = ("declared_active_days", "declared_day")
COLUMNS: dict[str, tuple[str, ...]] = {"name": ("name",), **{c: (c,) for c in PLAIN}}
for _prefix, _path in GROUPS.items():
    for _field in FIELDS:
        COLUMNS[_column(_prefix, _field)] = (*_path, _field)

#: Dotted path inside a platform entry -> column name (for error messages).
PATH_TO_COLUMN = {".".join(path): col for col, path in COLUMNS.items()}


def _cell(value: Any, numeric: bool, decimal_comma: bool = False) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    if text == "":
        return None
    if numeric:
        number = written_number(text, decimal_comma)
        # not a number: validation then says "must be a number" for this column
        return text if number is None else number
    return text


def written_number(text: str, decimal_comma: bool = False) -> float | None:
    """A number as a spreadsheet writes it, or None. Spaces (and the no-break spaces
    French locales write) group thousands. With ``decimal_comma`` (a file separated by
    semicolons, as spreadsheets write where the comma is the decimal mark) the comma is
    the decimal mark and dots group thousands; otherwise commas group thousands.

    >>> [written_number(x) for x in ("1,234,567", "1 234 567", "12.5", "0.125")]
    [1234567.0, 1234567.0, 12.5, 0.125]
    >>> [written_number(x, decimal_comma=True) for x in ("0,85", "1.234.567", "1 234,5")]
    [0.85, 1234567.0, 1234.5]
    >>> written_number("about 3") is None
    True
    """
    t = re.sub(r"[\s\u00a0\u202f]", "", text)
    if decimal_comma:
        if re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+(,\d*)?", t):
            t = t.replace(".", "")
        t = t.replace(",", ".")
    else:
        t = t.replace(",", "")
    try:
        return float(t) if t else None
    except ValueError:
        return None


def platform_rows(frame: pd.DataFrame, name: str, decimal_comma: bool = False) -> list[dict]:
    """Platform entries (as the study file's ``[[platforms]]`` dicts) from a table
    (``decimal_comma``: see :func:`written_number`)."""
    unknown = [str(c) for c in frame.columns if str(c) not in COLUMNS]
    if unknown:
        raise InputError(f"{name}: unknown column '{unknown[0]}' (expected name, declared, "
                         "visitors, worker_share, each with optional _low, _high, _status, "
                         "_source, _date, _note, _distribution; declared_active_days, "
                         "declared_day)")
    if "name" not in frame.columns:
        raise InputError(f"{name}: missing column 'name'")
    rows = []
    for record in frame.to_dict(orient="records"):
        entry: dict[str, Any] = {"name": _cell(record.get("name"), False)}
        for column in PLAIN:
            number = _cell(record.get(column), True, decimal_comma)
            if number is not None:
                entry[column] = number
        for prefix, path in GROUPS.items():
            if _cell(record.get(prefix), True, decimal_comma) is None:
                continue
            group = {}
            for field in FIELDS:
                v = _cell(record.get(_column(prefix, field)), field in NUMERIC, decimal_comma)
                if v is not None:
                    group[field] = v
            target = entry
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = group
        if entry["name"] is None:
            entry.pop("name")  # validation reports it as required
        rows.append(entry)
    return rows


def read_platform_table(path: str | Path) -> list[dict]:
    """Read a platform table; ``len(result)`` entries, row ``i`` is on line ``i + 2``."""
    frame = read_table(path)
    decimal_comma = frame.attrs.get("delimiter") == ";"
    frame = frame.astype(object).where(frame.notna(), None)
    return platform_rows(frame, str(path), decimal_comma)


def column_for(sub_path: str) -> str:
    """The table column of a path inside a platform entry: ``declared.low`` -> ``declared_low``."""
    return PATH_TO_COLUMN.get(sub_path, sub_path)
