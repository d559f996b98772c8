"""Reading tabular files (CSV, Parquet) with clear errors. Shared by every area."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crowdcensus.errors import InputError

PARQUET_SUFFIXES = {".parquet", ".pq"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame.

    The format is chosen by the suffix (``.parquet``/``.pq`` is Parquet,
    anything else CSV). Errors become :class:`~crowdcensus.errors.InputError`
    with one line naming the file and the problem.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not a data file")
    try:
        if p.suffix.lower() in PARQUET_SUFFIXES:
            return pd.read_parquet(p)
        if p.stat().st_size == 0:
            raise InputError(f"no data: {p} is empty")
        try:
            return pd.read_csv(p, engine="pyarrow")
        except (ValueError, pd.errors.ParserError, OSError):
            # the pyarrow engine rejects some valid CSVs (ragged quoting...)
            return pd.read_csv(p)
    except InputError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"no data: {p} is empty") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not a text CSV file ({exc.reason})") from exc
    except Exception as exc:  # pyarrow, parser and OS errors all end here
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{p}: cannot read the file ({first})") from exc
