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


#: Spreadsheet workbooks, which are not read (their sheets are saved as CSV first).
WORKBOOK_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods", ".numbers"}
#: How a zip archive starts (.xlsx and .ods are zip archives); an OLE2 file (.xls).
_ARCHIVE_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


def _check_file(p: Path) -> None:
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not a data file")
    if p.suffix.lower() in WORKBOOK_SUFFIXES or (
            p.suffix.lower() not in PARQUET_SUFFIXES and _head(p, 4) in _ARCHIVE_MAGIC):
        raise InputError(f"{p}: is a spreadsheet workbook, not a table: save the sheet as "
                         "CSV (UTF-8) or Parquet")
    if p.suffix.lower() not in PARQUET_SUFFIXES and p.stat().st_size == 0:
        raise InputError(f"no data: {p} is empty")


#: Separators a CSV may use: the comma, or the semicolon that spreadsheets write where
#: the comma is the decimal mark (French Excel), a tab, a vertical bar.
DELIMITERS = ",;\t|"
#: The encoding tried when a CSV is not UTF-8: Windows' Western European code page, in
#: which spreadsheets on French Windows save "CSV" (its five undefined bytes still fail).
FALLBACK_ENCODING = "cp1252"


def sniff_delimiter(head: bytes) -> str:
    """The separator of a CSV whose first bytes are ``head``: the one of
    :data:`DELIMITERS` found most often outside quotes in the header line, the comma
    when none is found more often than it.

    >>> sniff_delimiter(b"worker;wave;hours\\na;w1;1,5\\n")
    ';'
    >>> sniff_delimiter(b'"a;b",c\\n')
    ','
    """
    line = head.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > counts[","] else ","


def repeated_names(head: bytes, sep: str) -> list[str]:
    """The names the header line of a CSV (its first bytes ``head``) gives more than once:
    pandas reads the second ``a`` as a column ``a.1``, which names no column of the file.

    >>> repeated_names(b"id,frequency,frequency\\n1,a,b\\n", ",")
    ['frequency']
    """
    import csv

    line = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").lstrip("\ufeff")
    return _repeated([n.strip() for n in next(csv.reader([line.rstrip("\r")],
                                                         delimiter=sep), [])])


def _repeated(names: list[str]) -> list[str]:
    """The (non-empty) names found more than once in ``names``, sorted."""
    return sorted({n for n in names if n and names.count(n) > 1})


def _binary_columns(frame: pd.DataFrame) -> bool:
    """Whether pyarrow read some column as bytes: it reads the cells of a CSV that is not
    UTF-8 that way, without an error (a binary column holds bytes in every cell)."""
    for name in frame.columns:
        col = frame[name]
        if col.dtype == object:
            first = col.first_valid_index()
            if first is not None and isinstance(col[first], bytes):
                return True
    return False


def _head(path: Path, size: int = 65536) -> bytes:
    with path.open("rb") as f:
        return f.read(size)


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
        head = data[:65536]
        sep = sniff_delimiter(head)
    else:
        source = Path(path)
        _check_file(source)
        parquet = source.suffix.lower() in PARQUET_SUFFIXES
        head = b"" if parquet else _head(source)
        sep = "," if parquet else sniff_delimiter(head)
    label = _label(path)
    try:
        if parquet:
            return pd.read_parquet(source)
        again = io.BytesIO(data) if data else source
        try:
            frame = pd.read_csv(source, engine="pyarrow", sep=sep)
        except (ValueError, pd.errors.ParserError, OSError):
            # the pyarrow engine rejects some valid CSVs (ragged quoting, a header that is
            # not UTF-8...)
            try:
                frame = pd.read_csv(again, sep=sep)
            except UnicodeDecodeError:
                frame = pd.read_csv(io.BytesIO(data) if data else source, sep=sep,
                                    encoding=FALLBACK_ENCODING)
        else:
            if _binary_columns(frame):   # cells that are not UTF-8 under a UTF-8 header
                frame = pd.read_csv(again, sep=sep, encoding=FALLBACK_ENCODING)
        frame.attrs["delimiter"] = sep    # ";": the comma is most likely the decimal mark
        frame.attrs["repeated_columns"] = repeated_names(head, sep)
        return frame
    except InputError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"no data: {label} is empty") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: not a text CSV file (neither UTF-8 nor Windows-1252: "
                         f"{exc.reason}); save it as CSV UTF-8") from exc
    except Exception as exc:  # pyarrow, parser and OS errors all end here
        raise _cannot_read(label, exc) from exc


def read_columns(path: str | Path) -> dict[str, np.ndarray]:
    """The columns of a CSV or Parquet file as NumPy arrays, read by pyarrow without pandas.

    The fast path of the capture-data readers; a CSV that pyarrow's parser rejects is
    read by :func:`read_table` instead, so both accept the same files and give the same
    errors. A column name given twice is refused: each column of capture data is an
    occasion or the count, and :func:`read_table` would read the second as another.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    label = _label(path)
    if str(path) == STDIN:
        data = _stdin_bytes()
        source: object = _arrow_reader(data)
        parquet = False
        sep = sniff_delimiter(data[:65536])
    else:
        p = Path(path)
        _check_file(p)
        source, parquet = str(p), p.suffix.lower() in PARQUET_SUFFIXES
        sep = "," if parquet else sniff_delimiter(_head(p))
    try:
        if parquet:
            import pyarrow.parquet as pq

            table = pq.read_table(source)
        else:
            table = pacsv.read_csv(source, parse_options=pacsv.ParseOptions(delimiter=sep))
            table.column_names   # noqa: B018 -- a header that is not UTF-8 fails here
            if any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)
                   for f in table.schema):
                table = None     # not UTF-8: read by pandas in the fallback encoding, below
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        if parquet:
            raise _cannot_read(label, exc) from exc
        table = None
    except OSError as exc:
        raise _cannot_read(label, exc) from exc
    if table is not None and (twice := _repeated(table.column_names)):
        # read on, the second would become another column ('a.1'): another occasion
        raise InputError(f"{label}: column {twice[0]!r} appears "
                         f"{table.column_names.count(twice[0])} times in the header; give "
                         "each column its own name")
    if table is None:
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

    sep = sniff_delimiter(data[:65536])
    try:
        try:
            return pd.read_csv(io.BytesIO(data), sep=sep)
        except UnicodeDecodeError:
            return pd.read_csv(io.BytesIO(data), sep=sep, encoding=FALLBACK_ENCODING)
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"no data: {label} is empty") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: not a text CSV file (neither UTF-8 nor Windows-1252: "
                         f"{exc.reason}); save it as CSV UTF-8") from exc
    except Exception as exc:
        raise _cannot_read(label, exc) from exc


def read_times(values: pd.Series, groups: pd.Series | None = None,
               name: str = "times") -> pd.Series:
    """Times (UTC) read from ISO 8601, or from dates written day first (as in France:
    25/05/2025 14:05) or month first (05/25/2025).

    The order is the one the cells show: a first number above 12 is a day, a second
    number above 12 is a day. Where no cell shows it (no day after the 12th), ``groups``
    (each value's wave) decides: the reading under which each group's times lie closer
    together; without groups that is an :class:`~crowdcensus.errors.InputError` naming
    ``name``, as are cells that show both orders. Cells that are not times are NaT.

    >>> import pandas as pd
    >>> read_times(pd.Series(["03/06/2025 10:00", "25/05/2025 09:30"])).dt.month.tolist()
    [6, 5]
    """
    import warnings

    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values, utc=True)
    text = values.astype("string").str.strip()
    iso = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    if iso.notna().sum() == text.notna().sum():
        return iso
    parts = text.str.extract(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{2,4}\b").astype(float)
    day_first, month_first = bool((parts[0] > 12).any()), bool((parts[1] > 12).any())
    if day_first and month_first:
        example = text[(parts[1] > 12).to_numpy()].iloc[0]
        raise InputError(f"{name}: some dates are written day first and others month first "
                         f"(such as {example!r}); write them as ISO 8601 (2025-05-03 14:05)")

    def reading(first: bool) -> pd.Series:
        from pandas.tseries.api import guess_datetime_format

        # one format for every cell when the first one's fits them all (parsing each cell
        # on its own costs about a second per 15,000)
        known = text.dropna()
        fmt = guess_datetime_format(str(known.iloc[0]), dayfirst=first) if len(known) else None
        if fmt is not None:
            times = pd.to_datetime(text, errors="coerce", utc=True, format=fmt)
            if times.notna().sum() == len(known):
                return times
        with warnings.catch_warnings():   # "parsing dates in %d/%m/%Y format..."
            warnings.simplefilter("ignore", UserWarning)
            return pd.to_datetime(text, errors="coerce", utc=True, format="mixed",
                                  dayfirst=first)

    if day_first or month_first or parts[0].isna().all():
        return reading(day_first)
    month, day = reading(False), reading(True)
    if month.equals(day):
        return month
    if groups is None:
        example = text[(month != day).to_numpy()].iloc[0]
        raise InputError(f"{name}: dates such as {example!r} read both day first and month "
                         "first; write them as ISO 8601 (2025-05-03 14:05)")
    keys = np.asarray(groups)

    def spread(times: pd.Series) -> float:   # the groups' median distance to their median
        seconds = (times - times.groupby(keys).transform("median")).abs().dt.total_seconds()
        return float(seconds.groupby(keys).median().median())

    return day if spread(day) < spread(month) else month
