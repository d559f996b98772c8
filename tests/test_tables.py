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
