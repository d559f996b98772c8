"""Validation runs: reproducible with a seed, identical on local processes and on Dask."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from crowdcensus.simulate.validation import replicate_seeds, summarise, validate_scenarios
from tests.simulate.conftest import small

pytestmark = pytest.mark.xdist_group("simulate-validate")


@pytest.fixture(scope="module")
def scenarios():
    return [small("ideal", workers=2500), small("churn", workers=2500)]


@pytest.fixture(scope="module")
def serial(scenarios):
    return validate_scenarios(scenarios, replicates=2, seed=9, workers=1)


def test_summary_figures(serial):
    rep, s = serial.replicates, serial.summary
    assert set(rep["scenario"]) == {"ideal", "churn"}
    assert (rep["error"] == "").all()
    assert set(s["replicates"]) == {2}
    assert s["coverage"].between(0, 1).all() and (s["rmse"] >= s["bias"].abs()).all()
    # the truth differs between replicates (each draws its own country)
    assert rep.groupby("replicate")["truth"].sum().nunique() == 2


def test_summary_against_figures_worked_by_hand():
    # truths 100 and 200; estimates 110 (interval 95-120) and 180 (interval 150-190)
    frame = pd.DataFrame([
        {"scenario": "x", "replicate": 0, "tier": "regular", "method": "combined",
         "truth": 100, "estimate": 110.0, "low": 95.0, "high": 120.0, "error": ""},
        {"scenario": "x", "replicate": 1, "tier": "regular", "method": "combined",
         "truth": 200, "estimate": 180.0, "low": 150.0, "high": 190.0, "error": ""},
    ])
    row = summarise(frame).iloc[0]
    assert row["bias"] == pytest.approx(-5.0)                 # (10 - 20) / 2
    assert row["relative_bias"] == pytest.approx(0.0)         # (0.1 - 0.1) / 2
    assert row["rmse"] == pytest.approx(250 ** 0.5)           # sqrt((100 + 400) / 2)
    assert row["relative_rmse"] == pytest.approx(0.1)
    assert row["mean_abs_relative_error"] == pytest.approx(0.1)
    assert row["coverage"] == 0.5 and row["coverage_se"] == pytest.approx(0.5 ** 0.5 / 2)
    assert row["relative_width"] == pytest.approx((0.25 + 0.2) / 2)
    assert row["truth_mean"] == 150 and row["estimate_mean"] == 145


def test_a_tier_with_no_worker_has_no_relative_figures():
    """A country without regular workers (truth 0): bias and RMSE in workers, the relative
    figures undefined (not infinite), and the targets judged on the other tiers."""
    from crowdcensus.simulate.validation import Validation
    from crowdcensus.simulate.validation_report import targets

    frame = pd.DataFrame([
        {"scenario": "x", "replicate": r, "tier": tier, "method": "combined", "truth": truth,
         "estimate": est, "low": lo, "high": hi, "error": ""}
        for r in range(2) for tier, truth, est, lo, hi in (
            ("regular", 0, 4.0, 1.0, 9.0), ("occasional", 100, 90.0, 60.0, 150.0))])
    s = summarise(frame).set_index("tier")
    assert s.loc["regular", "bias"] == 4.0 and s.loc["regular", "rmse"] == 4.0
    assert s.loc["regular", "coverage"] == 0.0
    for col in ("relative_bias", "relative_rmse", "mean_abs_relative_error", "relative_width"):
        assert np.isnan(s.loc["regular", col]), col
    assert s.loc["occasional", "relative_width"] == pytest.approx(0.9)
    met = {t["target"]: t for t in targets(Validation(frame, summarise(frame), 1, 2, []))}
    assert met["occasional: interval width <= 1.2 x the estimate"]["met"]
    assert not any("regular" in t["detail"] and "nan" in t["detail"] for t in met.values())


def test_same_seed_same_figures_different_seed_different(scenarios, serial):
    again = validate_scenarios(scenarios[:1], replicates=2, seed=9, workers=1)
    first = serial.replicates[serial.replicates["scenario"] == "ideal"].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, again.replicates)
    other = validate_scenarios(scenarios[:1], replicates=2, seed=10, workers=1)
    assert not np.allclose(other.replicates["estimate"], again.replicates["estimate"])
    a, b = replicate_seeds(9, 3), replicate_seeds(9, 3)
    assert [s.generate_state(2).tolist() for s in a] == [s.generate_state(2).tolist() for s in b]


def test_processes_and_dask_give_identical_results(scenarios, serial):
    distributed = pytest.importorskip("distributed")
    pooled = validate_scenarios(scenarios, replicates=2, seed=9, workers=2)
    pd.testing.assert_frame_equal(serial.replicates, pooled.replicates)
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        on_dask = validate_scenarios(scenarios, replicates=2, seed=9,
                                     dask_scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(serial.replicates, on_dask.replicates)
    pd.testing.assert_frame_equal(serial.summary, on_dask.summary)


def test_failed_replicates_are_counted():
    frame = pd.DataFrame([
        {"scenario": "x", "replicate": 0, "tier": "regular", "method": "combined",
         "truth": 10, "estimate": 12.0, "low": 9.0, "high": 13.0, "error": ""},
        {"scenario": "x", "replicate": 1, "tier": "regular", "method": "combined",
         "truth": 10, "estimate": np.nan, "low": np.nan, "high": np.nan, "error": "boom"},
    ])
    s = summarise(frame)
    assert s.loc[s["method"] == "combined", "replicates"].item() == 1
    assert s.loc[s["method"] == "failed", "replicates"].item() == 1
    assert s.loc[s["method"] == "combined", "coverage"].item() == 1.0


def test_validate_cli_writes_the_report(tmp_path, scenarios):
    from crowdcensus.cli import main

    scen = tmp_path / "tiny.toml"
    data = scenarios[0].model_dump(mode="json")
    scen.write_text(_toml(data))
    out = tmp_path / "report"
    with pytest.raises(SystemExit) as code:
        main(["validate", str(scen), "--replicates", "2", "--seed", "3", "--workers", "1",
              "--out", str(out)])
    assert code.value.code == 0
    doc = json.loads((out / "validation.json").read_text())
    assert doc["seed"] == 3 and doc["replicates"] == 2
    html = (out / "validation.html").read_text()
    assert "Scenario ideal" in html and "data:image/png;base64," in html
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["method"]) >= {"declared", "audience", "experiment", "combined",
                                      "inverse_variance"}
    assert "slope_probability" not in summary.columns
    assert (out / "plot-coverage.png").stat().st_size > 1000
    # the two take-up readings (averaged by default): each replicate's combined rows say
    # the slope reading's probability, the other rows nothing; the report sums them up
    rep = pd.read_csv(out / "replicates.csv")
    combined = rep["method"] == "combined"
    assert rep.loc[combined, "slope_probability"].between(0, 1).all()
    assert rep.loc[~combined, "slope_probability"].isna().all()
    per = rep[combined].groupby("replicate")["slope_probability"].nunique()
    assert (per == 1).all()
    [readings] = doc["take_up_readings"]
    assert readings["scenario"] == "ideal" and readings["replicates"] == 2
    assert readings["mean_slope_probability"] == pytest.approx(
        rep.loc[combined].drop_duplicates("replicate")["slope_probability"].mean())
    assert "two readings of the waves" in html


def test_the_take_up_readings_are_summed_up_per_scenario():
    from crowdcensus.simulate.validation import take_up_readings

    rows = [{"scenario": sc, "replicate": i, "tier": t, "method": m,
             "slope_probability": p if m == "combined" else np.nan}
            for sc, ps in (("a", [0.001, 0.5, 0.995, 0.3]), ("b", [np.nan, np.nan]))
            for i, p in enumerate(ps)
            for t in ("occasional", "regular") for m in ("combined", "declared")]
    table = take_up_readings(pd.DataFrame(rows)).set_index("scenario")
    assert list(table.index) == ["a"]      # b's joint model did not average them
    a = table.loc["a"]
    assert a["replicates"] == 4 and a["mean_slope_probability"] == pytest.approx(0.449)
    assert a["slope_left_out"] == 0.25 and a["sight_left_out"] == 0.25
    assert take_up_readings(pd.DataFrame(rows).drop(columns="slope_probability")).empty


def test_validate_vary_runs_one_scenario_per_value(tmp_path, scenarios):
    from crowdcensus.cli import main

    scen = tmp_path / "tiny.toml"
    scen.write_text(_toml(scenarios[0].model_dump(mode="json")))
    out = tmp_path / "report"
    with pytest.raises(SystemExit) as code:
        main(["validate", str(scen), "--replicates", "1", "--seed", "3", "--workers", "1",
              "--vary", "experiment.take_up=0.3,0.9", "--out", str(out)])
    assert code.value.code == 0
    reps = pd.read_csv(out / "replicates.csv")
    names = sorted(set(reps["scenario"]))
    assert names == ["ideal[experiment.take_up=0.3]", "ideal[experiment.take_up=0.9]"]
    # same seed, same country: only the experiment differs, so the truth is the same
    truth = reps.groupby("scenario")["truth"].sum()
    assert truth.nunique() == 1
    # a higher take-up catches more: the experiment's figures differ between the two
    exp = reps[reps["method"] == "experiment"].groupby("scenario")["estimate"].sum()
    assert exp.nunique() == 2


def test_a_scenario_varied_in_many_fields_has_its_plot_written(tmp_path, scenarios):
    """Each --vary adds its field to the scenario's name, and the name to its plot's file:
    eight of them made a name longer than a file system takes (found on 2026-12-07, the
    run stopped with 'File name too long' after every replicate had finished)."""
    from crowdcensus.cli import main

    scen = tmp_path / "tiny.toml"
    scen.write_text(_toml(scenarios[0].model_dump(mode="json")))
    out = tmp_path / "report"
    fields = ["churn.arrivals=0.15", "experiment.take_up=0.5"] + [
        f"assumptions.{name}={value}" for name, value in (
            ("arrival_share", 0.15), ("arrival_share_low", 0.05), ("arrival_share_high", 0.3),
            ("departure_share", 0), ("departure_share_low", 0),
            ("departure_share_high", 0.1))]
    with pytest.raises(SystemExit) as code:
        main(["validate", str(scen), "--replicates", "1", "--seed", "3", "--workers", "1",
              *[a for f in fields for a in ("--vary", f)], "--out", str(out)])
    assert code.value.code == 0
    name = "ideal" + "".join(f"[{f}]" for f in fields)
    assert len(f"plot-errors-{name}.png") > 255
    assert set(pd.read_csv(out / "replicates.csv")["scenario"]) == {name}
    plots = sorted(p.name for p in out.glob("plot-errors-*.png"))
    assert len(plots) == 1 and len(plots[0].encode()) <= 255
    assert plots[0].startswith("plot-errors-ideal[churn.arrivals=0.15]")
    assert (out / "validation.html").stat().st_size > 0


def test_validate_vary_refuses_an_unknown_field(tmp_path, scenarios):
    from crowdcensus.cli import main

    with pytest.raises(SystemExit) as code:
        main(["validate", "ideal", "--replicates", "1", "--vary", "experiment.nope=1,2",
              "--out", str(tmp_path / "r")])
    assert code.value.code == 2


def test_set_aside_changes_only_the_joint_models_figures(scenarios, serial):
    # the same replicates with the respondents' hours set aside: the methods' own rows are
    # the same figures, the joint model's differ (it no longer reads the hours)
    aside = validate_scenarios(scenarios[:1], replicates=2, seed=9, workers=1,
                               set_aside=["hours"]).replicates
    keys = ["replicate", "tier", "method"]
    both = serial.replicates[serial.replicates["scenario"] == "ideal"].merge(
        aside, on=keys, suffixes=("", "_aside"))
    assert len(both) == len(aside) and (aside["error"] == "").all()
    methods = both[both["method"] != "combined"]
    assert len(methods) and np.allclose(methods["estimate"], methods["estimate_aside"],
                                        equal_nan=True)
    joint = both[both["method"] == "combined"]
    assert len(joint) == 6
    assert not np.allclose(joint["estimate"], joint["estimate_aside"], rtol=1e-4)


def test_validate_refuses_two_scenarios_of_one_name(tmp_path, capsys):
    """A copy of a shipped scenario that keeps its name would be summed up with it (their
    replicates merged under one name): refused in one line, before any replicate runs."""
    from importlib.resources import files

    from crowdcensus.cli import main

    copy = tmp_path / "copy.toml"
    shipped = files("crowdcensus.simulate") / "scenarios" / "ideal.toml"
    copy.write_text(shipped.read_text(encoding="utf-8").replace(
        "workers = 20000", "workers = 19000", 1), encoding="utf-8")
    with pytest.raises(SystemExit) as code:
        main(["validate", "ideal", str(copy), "--replicates", "1",
              "--out", str(tmp_path / "r")])
    assert code.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "named 'ideal'" in err[0]
    assert not (tmp_path / "r").exists()


def test_validate_refuses_an_input_it_cannot_set_aside(tmp_path, capsys):
    from crowdcensus.cli import main

    with pytest.raises(SystemExit) as code:
        main(["validate", "ideal", "--replicates", "1", "--set-aside", "responses",
              "--out", str(tmp_path / "r")])
    assert code.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "responses" in err[0] and "hours, declared, audience" in err[0]
    assert not (tmp_path / "r").exists()


def test_a_resumed_run_gives_the_figures_of_an_uninterrupted_one(
        scenarios, serial, tmp_path, monkeypatch):
    """Each replicate is kept as it finishes; a run with more replicates and scenarios
    reuses what an earlier run with the same settings kept and runs only the rest."""
    import crowdcensus.simulate.validation as validation
    from crowdcensus.simulate.checkpoint import Checkpoint

    path = tmp_path / "checkpoint.jsonl"
    validate_scenarios(scenarios[:1], replicates=1, seed=9, workers=1, checkpoint=path)
    assert len(Checkpoint(path, resume=True).done) == 1
    ran = []
    real = validation.run_replicate
    monkeypatch.setattr(validation, "run_replicate",
                        lambda sc, seq, i, *rest: ran.append((sc.scenario.name, i))
                        or real(sc, seq, i, *rest))
    resumed = validate_scenarios(scenarios, replicates=2, seed=9, workers=1,
                                 checkpoint=path, resume=True)
    assert ran == [("ideal", 1), ("churn", 0), ("churn", 1)]
    pd.testing.assert_frame_equal(serial.replicates, resumed.replicates)
    pd.testing.assert_frame_equal(serial.summary, resumed.summary)
    assert len(Checkpoint(path, resume=True).done) == 4
    # another seed is another run: nothing is reused
    ran.clear()
    validate_scenarios(scenarios[:1], replicates=1, seed=10, workers=1, checkpoint=path,
                       resume=True)
    assert ran == [("ideal", 0)]
    # without resume the file starts afresh
    validate_scenarios(scenarios[:1], replicates=1, seed=9, workers=1, checkpoint=path)
    assert len(Checkpoint(path, resume=True).done) == 1


def test_a_worker_that_dies_leaves_the_finished_replicates_to_resume_from(
        scenarios, serial, tmp_path, monkeypatch):
    import crowdcensus.simulate.validation as validation
    from crowdcensus.errors import WorkerDiedError

    path = tmp_path / "checkpoint.jsonl"
    real = validation.run_replicate

    def dies_at_the_third(sc, seq, i, *rest):
        if (sc.scenario.name, i) == ("churn", 0):
            raise WorkerDiedError("a worker process died after 2 of 4 tasks")
        return real(sc, seq, i, *rest)

    monkeypatch.setattr(validation, "run_replicate", dies_at_the_third)
    with pytest.raises(WorkerDiedError, match=r"the 2 replicates finished are kept in .*"
                       r"checkpoint\.jsonl: add --resume"):
        validate_scenarios(scenarios, replicates=2, seed=9, workers=1, checkpoint=path)
    # the run was killed while it wrote a line: that line is ignored, the rest reused
    with path.open("a") as f:
        f.write('{"key": "0f3a", "rows": [{"scen')
    monkeypatch.setattr(validation, "run_replicate", real)
    resumed = validate_scenarios(scenarios, replicates=2, seed=9, workers=1,
                                 checkpoint=path, resume=True)
    pd.testing.assert_frame_equal(serial.replicates, resumed.replicates)
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(line)["rows"] for line in lines)


def test_validate_refuses_to_resume_from_nothing_and_an_out_that_is_a_file(tmp_path, capsys):
    from crowdcensus.cli import main

    for args, said in ((["--out", str(tmp_path / "r"), "--resume"], "does not exist"),
                       (["--out", str(tmp_path / "f")], "is not a directory")):
        (tmp_path / "f").write_text("a file the user keeps")
        with pytest.raises(SystemExit) as code:
            main(["validate", "ideal", "--replicates", "1", *args])
        assert code.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and said in err[0]
    assert (tmp_path / "f").read_text() == "a file the user keeps"


def test_validate_without_resume_keeps_the_replicates_an_earlier_run_left(tmp_path, capsys):
    from crowdcensus.cli import main

    out = tmp_path / "r"
    out.mkdir()
    kept = out / "checkpoint.jsonl"
    text = '{"key": "a1", "rows": [{"scenario": "ideal"}]}\n{"key": "b2", "rows": []}\n'
    kept.write_text(text)
    with pytest.raises(SystemExit) as code:
        main(["validate", "ideal", "--replicates", "1", "--out", str(out)])
    assert code.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds 2 finished replicates" in err[0] and "--resume" in err[0]
    assert kept.read_text() == text


def _toml(data: dict, prefix: str = "") -> str:
    """A minimal TOML writer for a scenario dict (tables and arrays of tables)."""
    lines, subs = [], []
    for k, v in data.items():
        name = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            subs.append(f"[{name}]\n" + _toml(v, name))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            subs.extend(f"[[{name}]]\n" + _toml(item, name) for item in v)
        elif v is not None:
            lines.append(f"{k} = {json.dumps(v)}")
    return "\n".join(lines) + "\n" + "\n".join(subs)


def test_a_worker_that_drops_its_compiled_programs_gives_the_same_figures(
        scenarios, serial, monkeypatch):
    """Past a share of the kernel's limit on memory mappings a fit first drops the compiled
    programs (each structure's take thousands; a worker that had fitted about 20 died);
    compiled again, they give the same figures to the last digit."""
    import crowdcensus.synthesis.inference as inference

    maps = inference.memory_maps()
    if maps is None:  # pragma: no cover - not Linux
        pytest.skip("no /proc: the mappings cannot be counted here")
    assert 0 < maps[0] < maps[1]
    # both countries compiled in this process (other tests on this worker may have filled
    # its mappings past the share since the fixture ran, and dropped them)
    monkeypatch.setattr(inference, "MAP_SHARE", 1.0)
    validate_scenarios(scenarios, replicates=1, seed=9, workers=1)
    assert len(inference.CompiledModel._cache) >= 2
    assert not inference.release_compiled(share=1.0)
    assert len(inference.CompiledModel._cache) >= 2
    released = []
    real = inference.release_compiled
    monkeypatch.setattr(inference, "MAP_SHARE", 0.0)  # before every replicate
    monkeypatch.setattr(inference, "release_compiled",
                        lambda share=None: released.append(real(share)) or released[-1])
    again = validate_scenarios(scenarios[:1], replicates=2, seed=9, workers=1)
    # one release before every fit: two fits a replicate, without and with the take-up
    # slope (experiment.take_up_slope = "average")
    assert len(released) >= 4 and all(released)
    assert len(inference.CompiledModel._cache) == 1  # `ideal`'s, compiled anew
    before = inference.memory_maps()[0]
    assert real(0.0) and not inference.CompiledModel._cache
    assert inference.memory_maps()[0] < before - 500
    first = serial.replicates[serial.replicates["scenario"] == "ideal"].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, again.replicates)
