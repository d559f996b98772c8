"""Reading capture data: the three shapes, and every kind of bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdcensus.capture import (
    CaptureHistories,
    load_hare,
    read_events,
    read_frequencies,
    read_histories,
)
from crowdcensus.errors import InputError


def write(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_descriptive_statistics_of_hare():
    """Rcapture's descriptive(hare): fi, ui, vi, ni."""
    d = load_hare().descriptive()
    assert list(d.fi) == [25, 22, 13, 5, 1, 2]
    assert list(d.ui) == [16, 24, 9, 9, 6, 4]
    assert list(d.vi) == [3, 6, 6, 9, 12, 32]
    assert list(d.ni) == [16, 28, 20, 26, 23, 32]


@pytest.mark.parametrize("name", ["freq", "Count", "N", "FREQUENCY"])
def test_count_column_recognised(tmp_path, name):
    p = write(tmp_path, f"a,b,{name}\n1,1,3\n1,0,2\n0,1,4\n0,0,9\n")
    h = read_histories(p)
    assert h.n_captured == 9 and h.t == 2
    assert h.occasions == ("a", "b")


def test_explicit_freq_and_parquet(tmp_path):
    df = pd.DataFrame({"w1": [1, 0, 1], "w2": [1, 1, 0], "w3": [0, 1, 1], "k": [2, 3, 4]})
    p = tmp_path / "d.parquet"
    df.to_parquet(p)
    h = read_histories(p, freq="k")
    assert h.n_captured == 9
    assert list(h.per_occasion()) == [6, 5, 7]


def test_rows_without_capture_are_ignored(tmp_path):
    h = read_histories(write(tmp_path, "c1,c2\n0,0\n1,1\n0,0\n1,0\n"))
    assert h.n_captured == 2


def test_event_log_to_histories(tmp_path):
    p = write(tmp_path, "who,when\nx,2\ny,1\nx,1\nx,1\nz,3\n")
    h = read_events(p, "who", "when")
    assert h.t == 3 and h.n_captured == 3
    assert sorted(map(tuple, h.expand().tolist())) == [(0, 0, 1), (1, 0, 0), (1, 1, 0)]


@pytest.mark.parametrize("labels", [
    [f"w{i}" for i in range(1, 13)],
    [f"Wave {i}" for i in range(1, 13)],
    [str(i) for i in range(1, 13)],
    [f"2026-{m:02d}-01" for m in range(1, 13)],
])
def test_occasions_in_natural_order(tmp_path, labels):
    """Twelve waves keep their order: "w10" is the tenth, not the second (a string
    sort), which the models where order matters (churn, behaviour) depend on."""
    from crowdcensus.capture.histories import occasion_order

    rng = np.random.default_rng(0)
    assert occasion_order(rng.permutation(labels).tolist()) == labels
    # a worker caught at the second and tenth waves, another at the last
    rows = [("a", labels[1]), ("a", labels[9]), ("b", labels[11])]
    rows += [(f"c{i}", w) for i, w in enumerate(labels)]   # every wave has somebody
    p = write(tmp_path, "who,when\n" + "\n".join(f"{w},{o}" for w, o in rows) + "\n")
    h = read_events(p, "who", "when")
    assert list(h.occasions) == labels
    hist = {tuple(np.flatnonzero(r)) for r in h.expand()}
    assert (1, 9) in hist and (11,) in hist


def test_nbcap_data(tmp_path):
    p = write(tmp_path, "nbcap,freq\n1,25\n2,22\n3,13\n4,5\n5,1\n6,2\n")
    f = read_frequencies(p, t=6)
    assert list(f.f) == [25, 22, 13, 5, 1, 2] and f.n_captured == 68


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("c1,c2\n1,2\n", "column 'c2' has the value 2 at row 1"),
        ("c1,c2,freq\n1,0,-1\n", "negative value"),
        ("c1,c2,freq\n1,0,1.5\n", "non-integer value"),
        ("c1\n1\n0\n", "at least 2 occasions"),
        ("c1,c2\n", "no data"),
        ("c1,c2\n0,0\n", "no individual was captured"),
        ("c1,c2\nx,1\n", "column 'c1' is not numeric"),
        # the cell that is not a number, not the column's first cell
        ("c1,c2\n1,1\n0,x\n1,0\n", r"column 'c2' is not numeric \(e\.g\. 'x'\)"),
        # read on, the second 'a' became another occasion ('a.1')
        ("a,a,b\n1,0,1\n0,1,1\n", "column 'a' appears 2 times in the header"),
    ],
)
def test_bad_histories(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        read_histories(write(tmp_path, text))


def test_missing_freq_column(tmp_path):
    with pytest.raises(InputError, match="missing column 'cnt'"):
        read_histories(write(tmp_path, "c1,c2\n1,0\n"), freq="cnt")


def test_missing_event_column(tmp_path):
    with pytest.raises(InputError, match="missing column 'wave'"):
        read_events(write(tmp_path, "worker,period\na,1\n"), "worker", "wave")


def test_empty_file(tmp_path):
    with pytest.raises(InputError, match="empty"):
        read_histories(write(tmp_path, ""))


def test_nbcap_above_t(tmp_path):
    with pytest.raises(InputError, match="exceeds the number of occasions"):
        read_frequencies(write(tmp_path, "nbcap,freq\n7,1\n"), t=6)


def test_aggregation_of_many_occasions():
    """Histories longer than a machine word (70 occasions) aggregate correctly."""
    rng = np.random.default_rng(0)
    m = (rng.random((500, 70)) < 0.05).astype(np.uint8)
    m[:, 0] = 1
    h = CaptureHistories.from_matrix(np.vstack([m, m[:50]]))
    assert h.n_captured == 550
    assert np.array_equal(h.per_occasion(), np.vstack([m, m[:50]]).sum(axis=0))
