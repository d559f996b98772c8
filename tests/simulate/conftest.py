from __future__ import annotations

import pytest

from crowdcensus.simulate.scenario import Scenario, load_scenario, parse_scenario


def small(name: str = "heterogeneous", workers: int = 3000, **changes: dict) -> Scenario:
    """A shipped scenario, scaled down, with some sections changed."""
    data = load_scenario(name).model_dump(mode="json")
    data["population"]["workers"] = workers
    data["assumptions"]["draws"] = 200
    for section, fields in changes.items():
        data[section] = {**data[section], **fields}
    return parse_scenario(data)


@pytest.fixture
def small_scenario() -> Scenario:
    return small()
