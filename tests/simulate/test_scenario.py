"""Scenario files: the shipped ones load, and every error names the field at fault."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from crowdcensus.errors import InputError
from crowdcensus.simulate.scenario import load_scenario, parse_scenario, shipped_scenarios
from tests.cli_runner import run_cli


def _data() -> dict:
    return load_scenario("ideal").model_dump(mode="json")


def test_shipped_scenarios_load_and_are_documented():
    names = shipped_scenarios()
    assert names == ["churn", "dormant", "heterogeneous", "ideal", "inflated", "misreport",
                     "small", "subset"]
    doc = (Path(__file__).parents[2] / "docs" / "validation.md").read_text()
    for name in names:
        sc = load_scenario(name)
        assert sc.scenario.name == name
        assert f"`{name}`" in doc
    usage = re.sub(r"[\s│]+", " ", run_cli("simulate", "--help").stdout)
    assert ", ".join(names) in usage       # the command's help lists them


def _differences(a, b, path=""):
    """The paths where two dumped scenarios differ, with both values."""
    if isinstance(a, dict):
        for key in sorted(a):
            yield from _differences(a[key], b[key], f"{path}.{key}" if path else key)
    elif isinstance(a, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(x, y, f"{path}[{i}]")
    elif a != b:
        yield path, a, b


def test_stacked_scenario_is_subset_with_the_documented_departures():
    """docs/validation/stacked.toml (every departure at once) is not shipped, and differs
    from `subset` by exactly the six departures its header and docs/validation.md list."""
    path = Path(__file__).parents[2] / "docs" / "validation" / "stacked.toml"
    stacked = load_scenario(path)
    assert "stacked" not in shipped_scenarios()
    found = {p: new for p, _, new in _differences(load_scenario("subset").model_dump(mode="json"),
                                                  stacked.model_dump(mode="json"))
             if not p.startswith("scenario.")}
    platforms = [f"platforms[{i}]" for i in range(5)]
    expected = {"population.inactive_per_worker": 1.0, "activity.misreport": 0.3,
                "churn.arrivals": 0.25, "churn.departures": 0.25, "experiment.first_day": 28,
                "experiment.spacing_days": 28, "experiment.aversion": 0.3,
                "activity.inattentive": 0.1}
    expected |= {f"{p}.visitors_per_person": 1.3 for p in platforms}
    expected |= {f"{p}.inflation": f for p, f in zip(platforms, (1.5, 1.2, 1.35, 1.3, 1.1),
                                                     strict=True)}
    assert found == expected
    doc = (Path(__file__).parents[2] / "docs" / "validation.md").read_text()
    assert "validation/stacked.toml" in doc


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["activity"]["classes"][0].update(share=0.5),
     "activity.classes: the shares must add up to 1"),
    (lambda d: d["activity"]["classes"][1].update(share=1.5),
     "activity.classes[1].share: must be"),
    (lambda d: d["population"].update(workers=10), "population.workers: must be at least 50"),
    (lambda d: d["platforms"][1].update(name="ebay"), "platforms[1].name: unknown platform 'ebay'"),
    (lambda d: d["platforms"][2].update(name="clickworker"),
     "platforms[2].name: duplicate platform 'clickworker'"),
    (lambda d: d["platforms"][0].update(client_share=1.0), "platforms[0].client_share: must be"),
    (lambda d: d["experiment"].update(waves=40), "experiment.first_day: the last wave ends"),
    (lambda d: d["experiment"].update(spacing_days=3), "experiment.spacing_days: must be at least"),
    (lambda d: d["assumptions"].update(multihoming="guess"), "assumptions.multihoming: must be"),
    (lambda d: d["assumptions"].update(dormant_share_low=0.1),
     "assumptions.dormant_share: a range needs its value"),
    (lambda d: d["assumptions"].update(dormant_share=0.1, dormant_share_high=0.05),
     "assumptions.dormant_share: must lie between"),
    (lambda d: d["activity"].update(inattentive_answers=[1, 0, 0]),
     "activity.inattentive_answers: expected four weights"),
    (lambda d: d["activity"].update(inattentive_answers=[0, 0, 0, 0]),
     "activity.inattentive_answers: expected four weights"),
    (lambda d: d["activity"].update(inattentive_answers=[1, -1, 0, 0]),
     "activity.inattentive_answers[1]: must be"),
    (lambda d: d["churn"].update(arrivals="many"), "churn.arrivals: must be a number"),
    (lambda d: d.update(colour="blue"), "colour: unknown field"),
    (lambda d: d.pop("population"), "population: is required"),
])
def test_errors_name_the_field(change, expected):
    data = _data()
    change(data)
    with pytest.raises(InputError) as err:
        parse_scenario(data, name="s.toml")
    assert str(err.value).startswith("s.toml: ")
    assert expected in str(err.value)


def test_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario\nname=1")
    with pytest.raises(InputError, match="not valid TOML"):
        load_scenario(bad)
    with pytest.raises(InputError, match="no such file .*ideal"):
        load_scenario(tmp_path / "missing.toml")
    with pytest.raises(InputError, match="is a directory"):
        load_scenario(tmp_path)


def test_cli_one_line_error_and_exit_2(tmp_path):
    bad = tmp_path / "s.toml"
    bad.write_text(load_scenario_text().replace("share = 0.04", "share = 0.4", 1))
    proc = subprocess.run([sys.executable, "-m", "crowdcensus", "simulate", str(bad), "--out",
                           str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "activity.classes: the shares must add up to 1 (they add up to 1.36)" in proc.stderr
    assert not (tmp_path / "o").exists()


def load_scenario_text() -> str:
    from importlib import resources

    return (resources.files("crowdcensus.simulate") / "scenarios" / "ideal.toml").read_text()


def test_varied_changes_one_field_everywhere_it_names():
    base = load_scenario("heterogeneous")
    v = base.varied("activity.classes.variation", 0.5)
    assert v.scenario.name == "heterogeneous[activity.classes.variation=0.5]"
    assert [c.variation for c in v.activity.classes] == [0.5] * len(base.activity.classes)
    assert v.population == base.population and v.experiment == base.experiment
    assert base.varied("experiment.reach_error", 1.3).experiment.reach_error == 1.3


@pytest.mark.parametrize(("path", "value", "message"), [
    ("activity.nope", 1, "no such scenario field"),
    ("activity", 1, "is a section, not a value"),
    ("activity.misreport", 2, "activity.misreport"),
])
def test_varied_errors_name_the_field(path, value, message):
    with pytest.raises(InputError, match=message):
        load_scenario("heterogeneous").varied(path, value)


def test_a_field_of_lists_is_varied_by_a_json_array_of_lists():
    """`--vary` takes, for a field whose values are lists (the platforms posted on, the
    postings by wave), a JSON array of them; a list cannot replace a section."""
    import pytest

    from crowdcensus.commands.simulate import _values
    from crowdcensus.errors import InputError
    from tests.simulate.conftest import small

    waves = [["clickworker", "mturk"]] + [["clickworker"]] * 5
    values = _values("experiment.posted_waves",
                     '[[["clickworker","mturk"]' + ',["clickworker"]' * 5 + ']]')
    assert values == [waves]
    base = small("subset").model_dump(mode="json")
    base["experiment"]["platforms"] = None
    from crowdcensus.simulate.scenario import parse_scenario

    sc = parse_scenario(base).varied("experiment.posted_waves", waves)
    assert sc.posted_in_waves() == waves
    assert sc.scenario.name == ("subset[experiment.posted_waves=[[\"clickworker\",\"mturk\"]"
                                + ',["clickworker"]' * 5 + "]]")
    one = small("subset").varied("experiment.platforms", ["mturk"])
    assert one.posted() == ["mturk"]
    assert _values("activity.misreport", "0, 0.1,x") == [0, 0.1, "x"]
    for bad, said in (("[1, 2", "not a JSON array"), ("[]", "expected a JSON array")):
        with pytest.raises(InputError, match=said):
            _values("experiment.platforms", bad)
    with pytest.raises(InputError, match="is a section, not a value"):
        small("subset").varied("activity.classes", [1, 2])
    with pytest.raises(InputError, match="experiment.platforms"):
        small("subset").varied("experiment.platforms", ["nowhere"])


@pytest.mark.parametrize("value", [None, "average", "auto", True, False])
def test_the_scenarios_take_up_slope_is_the_simulated_studys(tmp_path, value):
    """`assumptions.take_up_slope` reaches the study the simulator writes: true, false,
    "average" and "auto" as stated; left out of it when the scenario does not give it, so
    that the study's default ("average") applies; any other value is refused naming the
    field."""
    import numpy as np

    from crowdcensus.simulate.outputs import write_simulation
    from crowdcensus.simulate.world import generate_world
    from crowdcensus.study import load_study
    from tests.simulate.conftest import small

    world = generate_world(small(workers=500, assumptions={"take_up_slope": value}),
                           np.random.default_rng(0))
    study_file = write_simulation(world, tmp_path)
    assert ("take_up_slope" in study_file.read_text()) == (value is not None)
    assert load_study(study_file).experiment.take_up_slope == ("average" if value is None
                                                               else value)
    data = _data()
    data["assumptions"]["take_up_slope"] = "sometimes"
    with pytest.raises(InputError, match="take_up_slope"):
        parse_scenario(data)
