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

A group (declared, visitors, worker share) exists for a platform when its
value cell is filled. Errors name the file, the line and the column.
"""

from __future__ import annotations

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
COLUMNS: dict[str, tuple[str, ...]] = {"name": ("name",)}
for _prefix, _path in GROUPS.items():
    for _field in FIELDS:
        COLUMNS[_column(_prefix, _field)] = (*_path, _field)

#: Dotted path inside a platform entry -> column name (for error messages).
PATH_TO_COLUMN = {".".join(path): col for col, path in COLUMNS.items()}


def _cell(value: Any, numeric: bool) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    if text == "":
        return None
    if numeric:
        try:
            return float(text.replace(",", "")) if text.replace(",", "").strip() else None
        except ValueError:
            return text  # validation then says "must be a number" for this column
    return text


def platform_rows(frame: pd.DataFrame, name: str) -> list[dict]:
    """Platform entries (as the study file's ``[[platforms]]`` dicts) from a table."""
    unknown = [str(c) for c in frame.columns if str(c) not in COLUMNS]
    if unknown:
        raise InputError(f"{name}: unknown column '{unknown[0]}' (expected name, declared, "
                         "visitors, worker_share, each with optional _low, _high, _status, "
                         "_source, _date, _note, _distribution)")
    if "name" not in frame.columns:
        raise InputError(f"{name}: missing column 'name'")
    rows = []
    for record in frame.to_dict(orient="records"):
        entry: dict[str, Any] = {"name": _cell(record.get("name"), False)}
        for prefix, path in GROUPS.items():
            if _cell(record.get(prefix), True) is None:
                continue
            group = {}
            for field in FIELDS:
                v = _cell(record.get(_column(prefix, field)), field in NUMERIC)
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
    frame = frame.astype(object).where(frame.notna(), None)
    return platform_rows(frame, str(path))


def column_for(sub_path: str) -> str:
    """The table column of a path inside a platform entry: ``declared.low`` -> ``declared_low``."""
    return PATH_TO_COLUMN.get(sub_path, sub_path)
