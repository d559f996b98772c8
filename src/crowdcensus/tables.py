"""Reading tabular files (CSV, Parquet) with clear errors. Shared by every area.

``-`` as a path reads a CSV from standard input.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from crowdcensus.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

PARQUET_SUFFIXES = {".parquet", ".pq"}
#: The path that means standard input.
STDIN = "-"


def _label(path: str | Path) -> str:
    return "standard input" if str(path) == STDIN else str(path)


def _stdin_bytes() -> bytes:
    data = sys.stdin.buffer.read()
    if not data.strip():
        raise InputError("no data: standard input is empty")
    return data


def _arrow_reader(data: bytes):
    """A pyarrow reader over a copy of ``data`` in memory that Arrow owns.

    pyarrow's threaded CSV reader may drop its last reference to its source on one of
    its worker threads after the read has returned. When that source is a Python
    object (``bytes``, ``BytesIO``), the worker must take the GIL to release it; if the
    command has finished by then and the interpreter is shutting down, the thread is
    cancelled inside a C++ destructor and the process aborts after writing its output
    ("terminate called without an active exception"). Arrow's own memory is released
    without Python. Reading a named file never involves a Python object.
    """
    import numpy as np
    import pyarrow as pa

    buffer = pa.allocate_buffer(len(data))
    np.frombuffer(buffer, dtype=np.uint8)[:] = np.frombuffer(data, dtype=np.uint8)
    return pa.BufferReader(buffer)


def _check_file(p: Path) -> None:
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not a data file")
    if p.suffix.lower() not in PARQUET_SUFFIXES and p.stat().st_size == 0:
        raise InputError(f"no data: {p} is empty")


def _cannot_read(label: str, exc: BaseException) -> InputError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InputError(f"{label}: cannot read the file ({first})")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file (``-``: a CSV on standard input) into a DataFrame.

    The format is chosen by the suffix (``.parquet``/``.pq`` is Parquet,
    anything else CSV). Errors become :class:`~crowdcensus.errors.InputError`
    with one line naming the file and the problem.
    """
    import pandas as pd

    data = b""
    if str(path) == STDIN:
        data = _stdin_bytes()
        source: object = _arrow_reader(data)
        parquet = False
    else:
        source = Path(path)
        _check_file(source)
        parquet = source.suffix.lower() in PARQUET_SUFFIXES
    label = _label(path)
    try:
        if parquet:
            return pd.read_parquet(source)
        try:
            return pd.read_csv(source, engine="pyarrow")
        except (ValueError, pd.errors.ParserError, OSError):
            # the pyarrow engine rejects some valid CSVs (ragged quoting...)
            return pd.read_csv(io.BytesIO(data) if data else source)
    except InputError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"no data: {label} is empty") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: not a text CSV file ({exc.reason})") from exc
    except Exception as exc:  # pyarrow, parser and OS errors all end here
        raise _cannot_read(label, exc) from exc


def read_columns(path: str | Path) -> dict[str, np.ndarray]:
    """The columns of a CSV or Parquet file as NumPy arrays, read by pyarrow without pandas.

    The fast path of the capture-data readers; a CSV that pyarrow's parser rejects
    (or with repeated column names) is read by :func:`read_table` instead, so both
    accept the same files and give the same errors.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    label = _label(path)
    if str(path) == STDIN:
        data = _stdin_bytes()
        source: object = _arrow_reader(data)
        parquet = False
    else:
        p = Path(path)
        _check_file(p)
        source, parquet = str(p), p.suffix.lower() in PARQUET_SUFFIXES
    try:
        if parquet:
            import pyarrow.parquet as pq

            table = pq.read_table(source)
        else:
            table = pacsv.read_csv(source)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        if parquet:
            raise _cannot_read(label, exc) from exc
        table = None
    except OSError as exc:
        raise _cannot_read(label, exc) from exc
    if table is None or len(set(table.column_names)) != table.num_columns:
        if str(path) == STDIN:
            frame = _read_csv_bytes(data, label)
        else:
            frame = read_table(path)
        return {str(c): frame[c].to_numpy() for c in frame.columns}
    return {name: _to_numpy(table.column(j)) for j, name in enumerate(table.column_names)}


def _to_numpy(column) -> np.ndarray:
    """A pyarrow column as a NumPy array; numbers without nulls are read straight from the
    Arrow buffer (pyarrow's own conversion imports pandas, which costs more than the read)."""
    import numpy as np
    import pyarrow as pa

    arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if arr.null_count == 0 and (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)):
        dtype = np.dtype(arr.type.to_pandas_dtype())
        return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr),
                             offset=arr.offset * dtype.itemsize)
    return arr.to_numpy(zero_copy_only=False)


def _read_csv_bytes(data: bytes, label: str) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_csv(io.BytesIO(data))
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"no data: {label} is empty") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: not a text CSV file ({exc.reason})") from exc
    except Exception as exc:
        raise _cannot_read(label, exc) from exc
