"""Reading tables from a file and from standard input (``-``)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from crowdcensus import tables
from crowdcensus.errors import InputError

KOREA = Path(__file__).parent / "mse" / "data" / "korea.csv"


@pytest.fixture
def stdin_of(monkeypatch):
    def set_stdin(data: bytes) -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    return set_stdin


@pytest.mark.parametrize("read", [tables.read_columns, tables.read_table])
def test_standard_input_reads_as_the_file_does(read, stdin_of):
    stdin_of(KOREA.read_bytes())
    from_stdin, from_file = read(tables.STDIN), read(KOREA)
    assert list(from_stdin) == list(from_file)
    for name in from_file:
        np.testing.assert_array_equal(np.asarray(from_stdin[name]), np.asarray(from_file[name]))


def test_standard_input_is_read_from_memory_arrow_owns():
    # pyarrow's threaded CSV reader can release its source on a worker thread after the
    # read returns; a source backed by Python bytes then needs the GIL while the command's
    # interpreter shuts down, and the process aborted at exit (seen in about 1 run in 15
    # with four at once on two cores). The reader must hold a copy, not the bytes.
    data = KOREA.read_bytes()
    first = tables._arrow_reader(data).read_buffer()
    assert first.to_pybytes() == data
    assert first.address != np.frombuffer(data, dtype=np.uint8).ctypes.data


@pytest.mark.parametrize("read", [tables.read_columns, tables.read_table])
def test_a_short_row_on_standard_input_falls_back_to_the_pandas_parser(read, stdin_of):
    # pyarrow's parser refuses a row with fewer fields than the header; pandas fills it
    stdin_of(b"a,b\n1\n2,3\n")
    got = read(tables.STDIN)
    assert list(got["a"]) == [1, 2] and np.isnan(got["b"][0]) and got["b"][1] == 3


def test_empty_standard_input_is_an_input_error(stdin_of):
    stdin_of(b"  \n")
    with pytest.raises(InputError, match="standard input is empty"):
        tables.read_columns(tables.STDIN)


SEMICOLONS = b"id;wave;hours;note\na;w1;1,5;\"x; y\"\nb;w2;2;\n"


@pytest.mark.parametrize("read", [tables.read_columns, tables.read_table])
def test_semicolon_separated_files_read_as_comma_separated_ones(read, tmp_path, stdin_of):
    """Spreadsheets that write the comma as the decimal mark (French Excel) separate
    fields with semicolons; a quoted semicolon stays in its cell."""
    (tmp_path / "semi.csv").write_bytes(SEMICOLONS)
    for source in (tmp_path / "semi.csv", tables.STDIN):
        stdin_of(SEMICOLONS)
        got = read(source)
        assert list(got) == ["id", "wave", "hours", "note"]
        assert list(got["hours"]) == ["1,5", "2"] and list(got["note"])[0] == "x; y"


def test_the_separator_is_the_header_lines_commonest_outside_quotes():
    assert tables.sniff_delimiter(b"a,b,c\n1;2;3;4;5\n") == ","     # the header line only
    assert tables.sniff_delimiter(b"a\tb\tc\n") == "\t"
    assert tables.sniff_delimiter(b'"a;b;c",d\n') == ","
    assert tables.sniff_delimiter(b"a;b,c\n") == ","                # a tie keeps the comma
    assert tables.sniff_delimiter(b"single\n") == ","


@pytest.mark.parametrize("read", [tables.read_columns, tables.read_table])
def test_a_windows_1252_file_is_read_and_other_bytes_are_one_line(read, tmp_path):
    """Excel on French Windows saves "CSV" in Windows-1252: the accents are read as such.
    A file that is neither that nor UTF-8 (0x81 is undefined in both) is refused."""
    path = tmp_path / "fr.csv"
    for header in ("fréquence", "frequency"):   # pyarrow read the cells below an ASCII
        # header as bytes, without an error
        path.write_bytes(f"id,{header}\na,Une fois par semaine\nb,C'est la première "
                         "fois\n".encode("cp1252"))
        got = read(path)
        assert list(got) == ["id", header]
        assert list(got[header]) == ["Une fois par semaine", "C'est la première fois"]
    # a name that ends in an accent above cells in ASCII: pyarrow read the file and failed
    # only when the names were asked for
    path.write_bytes("café,b\n1,0\n0,1\n".encode("cp1252"))
    got = read(path)
    assert list(got) == ["café", "b"] and list(got["café"]) == [1, 0]
    path.write_bytes(b"id,x\na,\x81\xff\x81\n")
    with pytest.raises(InputError, match="neither UTF-8 nor Windows-1252.*save it as CSV "
                                         "UTF-8"):
        read(path)


def test_times_written_day_first_month_first_or_in_iso_8601():
    import pandas as pd

    iso = tables.read_times(pd.Series(["2025-05-03T14:05:00Z", "2025-05-25 09:00"]))
    assert [t.strftime("%m-%d") for t in iso] == ["05-03", "05-25"]
    french = tables.read_times(pd.Series(["03/05/2025 14:05", "25/05/2025 09:00"]))
    assert [t.strftime("%m-%d") for t in french] == ["05-03", "05-25"]
    american = tables.read_times(pd.Series(["05/03/2025 2:05 PM", "05/25/2025 9:00 AM"]))
    assert [t.strftime("%m-%d %H") for t in american] == ["05-03 14", "05-25 09"]
    # no day after the 12th: each wave's answers lie close together under one reading
    cells = pd.Series(["02/03/2025", "03/03/2025", "09/03/2025", "10/03/2025"])
    waves = pd.Series(["w1", "w1", "w2", "w2"])
    assert [t.day for t in tables.read_times(cells, waves)] == [2, 3, 9, 10]
    with pytest.raises(InputError, match="column 'at': dates such as '02/03/2025' read both"):
        tables.read_times(cells, name="column 'at'")
    with pytest.raises(InputError, match="day first and others month first"):
        tables.read_times(pd.Series(["25/05/2025", "05/26/2025"]))
    assert tables.read_times(pd.Series(["2025-05-03", "soon"])).isna().tolist() == [False, True]


@pytest.mark.parametrize("read", [tables.read_columns, tables.read_table])
def test_a_spreadsheet_workbook_is_one_line(read, tmp_path):
    """A workbook (by its name, or a zip archive named .csv) is not read as garbled text
    (which gave "no data: the table has no rows")."""
    for name in ("answers.xlsx", "answers.csv"):
        path = tmp_path / name
        path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)))
        with pytest.raises(InputError, match=f"{name}: is a spreadsheet workbook, not a "
                                             "table: save the sheet as CSV"):
            read(path)
