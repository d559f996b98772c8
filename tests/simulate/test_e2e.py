"""End to end: the collection service in a subprocess, answers over HTTP, export, run, truth.

Needs the collection service (``crowdcensus.collect``). When ``CI=true`` a
missing service is a failure, otherwise the test is skipped.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re

import pandas as pd
import pytest

from crowdcensus.capture.histories import CaptureHistories
from crowdcensus.pipeline import run_study
from crowdcensus.study import load_study
from tests.simulate.conftest import small

pytestmark = pytest.mark.xdist_group("simulate-e2e")


def test_each_thread_gets_its_own_http_client():
    """A client holds cookies (the CSRF nonce): two threads must never share one."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    _require_service()
    import httpx

    from crowdcensus.simulate.e2e import _ThreadClients

    clients = _ThreadClients(httpx)
    barrier = threading.Barrier(4)

    def twice(_):
        first = clients.get()
        barrier.wait()  # all four threads hold a client at the same time
        assert clients.get() is first
        return threading.get_ident(), id(first)

    with ThreadPoolExecutor(4) as pool:
        seen = list(pool.map(twice, range(4)))
    assert len({t for t, _ in seen}) == 4 and len({c for _, c in seen}) == 4
    clients.close()


def _require_service() -> None:
    if importlib.util.find_spec("crowdcensus.collect") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the collection service (crowdcensus.collect) is missing")
        pytest.skip("the collection service is not in this installation")


def _histories(frame: pd.DataFrame) -> pd.DataFrame:
    h = CaptureHistories.from_events(frame, "worker_hash", "wave",
                                     occasions=sorted(frame["wave"].unique()))
    return h.to_frame(freq="freq").sort_values(list(h.to_frame().columns[:-1]))


@pytest.mark.slow
def test_study_through_the_service(tmp_path):
    _require_service()
    from crowdcensus.simulate.e2e import run_through_service

    # a fifth answer at random: their attention check goes through the service's scoring;
    # people abroad (a tenth as many as the country's workers) say where they live
    scenario = small("heterogeneous", workers=1000, activity={"inattentive": 0.2},
                     population={"abroad": 0.1})
    run = run_through_service(scenario, tmp_path, seed=4, timeout=120)
    # posted on the scenario's two platforms the service supports (not on wirk), each wave
    # one occasion with a wave on each; the service keys IDs by platform, so the country
    # was drawn with one ID per platform, and some people answered on both
    assert run.platforms == ["clickworker", "mturk"]
    simulated = pd.read_csv(tmp_path / "responses-simulated.csv")
    people = simulated["worker_hash"].str.split("@").str[0]
    assert 0 < simulated["worker_hash"].nunique() - people.nunique() < 0.2 * people.nunique()
    exported = pd.read_csv(tmp_path / "responses.csv")
    assert run.responses_sent == len(simulated) > 100
    assert run.responses_exported == len(exported) == len(simulated)
    assert 0 < (~exported["attention_passed"]).sum() < 0.25 * len(exported)
    said = exported.groupby("worker_hash")["country"].first()
    away = int((said != "FR").sum())
    assert set(said) == {"FR", "MG", "MA"} and 0 < away < 0.2 * len(said)
    # every answer arrived as given, and the service linked each worker across waves
    key = ["wave", "frequency", "platforms_registered", "hours_per_week", "earnings_band",
           "country", "attention_answer", "attention_passed"]
    a = exported.assign(platforms_registered=exported["platforms_registered"].map(
        lambda s: ",".join(sorted(s.split(",")))))
    b = simulated.assign(platforms_registered=simulated["platforms_registered"].map(
        lambda s: ",".join(sorted(s.split(",")))))
    pd.testing.assert_frame_equal(a[key].sort_values(key).reset_index(drop=True),
                                  b[key].sort_values(key).reset_index(drop=True))
    assert exported["worker_hash"].nunique() == simulated["worker_hash"].nunique()
    pd.testing.assert_frame_equal(_histories(exported).reset_index(drop=True),
                                  _histories(simulated).reset_index(drop=True))
    # the exported study gives what the simulated responses give (point estimates; the
    # intervals differ a little as the bootstrap meets the respondents in another order)
    direct = load_study(tmp_path / "study.toml").model_copy()
    exp = direct.experiment.model_copy(update={"responses": "responses-simulated.csv"})
    direct = direct.model_copy(update={"experiment": exp})
    from_direct = run_study(direct)
    assert run.experiment
    for tier, iv in run.experiment.items():
        assert iv["estimate"] == pytest.approx(
            from_direct.methods["experiment"][tier].estimate, rel=1e-9)
    assert from_direct.capture.estimate == pytest.approx(run.capture_estimate, rel=1e-9)
    # the study read the country question: those abroad are left out, and said so
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert any(w.startswith(f"{away:,} of {len(said):,} respondents live in another "
                            "country than FR") for w in results["warnings"])
    # the study read each respondent as one worker on one platform, and said so
    assert any("the IDs are taken to be per platform" in w for w in results["warnings"])
    waves = exported.groupby("wave")["platform"].agg(lambda p: sorted(set(p)))
    assert list(waves.index) == [f"w{k}" for k in range(1, 7)]
    assert all(p == ["clickworker", "mturk"] for p in waves)
    # compared with the truth: nested, the very active and regular tiers covered, and the
    # occasional tier of the declared figures close. The experiment counts the workers
    # of the two platforms; the combined figure lies between the two methods.
    est = {t: run.combined[t]["estimate"] for t in run.combined}
    assert est["occasional"] >= est["regular"] >= est["very_active"] > 0
    for tier in ("very_active", "regular"):
        assert run.combined[tier]["low"] <= run.truth[tier] <= run.combined[tier]["high"]
    methods = results["methods"]
    declared = methods["declared"]["occasional"]["estimate"]
    assert abs(declared / run.truth["occasional"] - 1) < 0.25
    experiment = run.experiment["occasional"]["estimate"]
    assert min(declared, experiment) <= est["occasional"] <= max(declared, experiment)
    assert (tmp_path / "report" / "report.html").exists()
    # raw platform IDs never reach the disk
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert not re.search(rb"SIM[0-9A-F]{12}", path.read_bytes()), path


def test_the_service_posts_each_wave_on_the_platforms_it_supports():
    """Waves posted on different platforms keep their own (less the unsupported ones);
    one platform keeps one ID per person; a wave the service cannot post is one line."""
    _require_service()
    from crowdcensus.errors import InputError
    from crowdcensus.simulate.e2e import service_posting

    base = small("heterogeneous", workers=500)
    waves = [["clickworker", "wirk"], ["mturk"], ["clickworker", "mturk"]]
    sc = service_posting(base.with_experiment(waves=3, posted_waves=waves))
    assert sc.posted_in_waves() == [["clickworker"], ["mturk"], ["clickworker", "mturk"]]
    assert sc.experiment.linked_across_platforms is False
    one = service_posting(base.with_experiment(platforms=["mturk", "wirk"]))
    assert one.posted() == ["mturk"] and one.experiment.linked_across_platforms is True
    with pytest.raises(InputError, match=r"posted_waves\[1\] is \['wirk'\]"):
        service_posting(base.with_experiment(waves=2, posted_waves=[["mturk"], ["wirk"]]))
    with pytest.raises(InputError, match="posted on \\['wirk'\\]"):
        service_posting(base.with_experiment(platforms=["wirk"]))
