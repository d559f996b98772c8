"""The one parallel runner: same results inline, in processes and on Dask, in the order
given whatever the completion order, with progress reported."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from crowdcensus.errors import InputError
from crowdcensus.extras import MissingExtraError, require_extra
from crowdcensus.parallel import Runner, chunks


def seeded_draw(seq: np.random.SeedSequence, size: int) -> list[float]:
    return np.random.default_rng(seq).normal(size=size).tolist()


def slow_first(i: int, n: int) -> int:
    # the first tasks take longest, so they finish last on two processes
    time.sleep(0.05 * (n - i))
    return i * i


def fail_on(i: int, bad: int) -> int:
    if i == bad:
        raise ValueError(f"task {i} failed")
    return i


def die_on(i: int, bad: int) -> int:
    if i == bad:
        import os

        os._exit(9)  # as the kernel's out-of-memory killer would end it
    return i


def test_a_worker_that_dies_is_one_clear_error():
    from crowdcensus.errors import WorkerDiedError

    died = r"a worker process died after \d+ of 4 tasks"
    got: list[tuple[int, int]] = []
    with pytest.raises(WorkerDiedError, match=died), Runner(workers=2) as run:
        run.map(die_on, [(i, 2) for i in range(4)], on_result=lambda i, r: got.append((i, r)))
    # what finished before the death was handed over
    assert all(i == r != 2 for i, r in got)


def test_results_follow_the_order_given_not_the_completion_order():
    n = 6
    seen: list[tuple[int, int]] = []
    with Runner(workers=2) as run:
        out = run.map(slow_first, [(i, n) for i in range(n)],
                      progress=lambda done, total: seen.append((done, total)))
    assert out == [i * i for i in range(n)]
    assert seen == [(k, n) for k in range(1, n + 1)]


def last_to_finish(i: int, marker: str) -> int:
    """Task 0 waits until another task has finished (its marker file exists), so that
    it finishes after it whatever the processes' start-up times; the others mark."""
    path = Path(marker)
    if i == 0:
        deadline = time.monotonic() + 60
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)      # and the marking task's result has reached the parent
    else:
        path.touch()
    return i * i


@pytest.mark.parametrize("workers", [1, 2])
def test_each_result_is_handed_over_as_it_arrives(workers, tmp_path):
    n = 5
    got: list[tuple[int, int]] = []
    with Runner(workers=workers) as run:
        if workers == 1:
            out = run.map(slow_first, [(i, n) for i in range(n)],
                          on_result=lambda i, r: got.append((i, r)))
        else:
            out = run.map(last_to_finish, [(i, str(tmp_path / "done")) for i in range(n)],
                          on_result=lambda i, r: got.append((i, r)))
    assert sorted(got) == list(enumerate(out))
    if workers == 2:  # in the order they finish: the first task, finished last, is not first
        assert got[0][0] != 0
    else:             # one after another, in the order given
        assert [i for i, _ in got] == list(range(n))


def test_inline_processes_and_dask_give_identical_results():
    distributed = pytest.importorskip("distributed")
    jobs = [(s, 3) for s in np.random.SeedSequence(42).spawn(8)]
    with Runner(workers=1) as run:
        inline = run.map(seeded_draw, jobs)
    with Runner(workers=2) as run:
        pooled = run.map(seeded_draw, jobs)
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                       dashboard_address=None)
    with cluster, Runner(scheduler=cluster.scheduler_address) as run:
        assert run.parallelism == 2
        on_dask = run.map(seeded_draw, jobs)
    assert inline == pooled == on_dask
    assert len({tuple(x) for x in inline}) == 8


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_task_raises_its_error(workers):
    with Runner(workers=workers) as run, pytest.raises(ValueError, match="task 3 failed"):
        run.map(fail_on, [(i, 3) for i in range(5)])


def test_bad_worker_count_is_an_input_error():
    with pytest.raises(InputError, match="--workers"):
        Runner(workers=0)


def test_chunks_cover_the_range_once_in_order():
    for n, k in [(10, 3), (3, 10), (1000, 8), (1, 1)]:
        parts = chunks(n, k)
        assert [i for p in parts for i in p] == list(range(n))
        assert len(parts) == min(n, k)
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_missing_extra_is_one_line_naming_the_extra():
    with pytest.raises(MissingExtraError) as exc:
        require_extra("dask", "--dask-scheduler", modules=("surely_not_installed_xyz",))
    assert str(exc.value) == ("--dask-scheduler needs the dask extra: "
                              "pip install 'crowdcensus[dask]'")
    assert exc.value.exit_code == 2
