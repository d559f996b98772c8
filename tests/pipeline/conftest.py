"""Shared helpers for the pipeline tests."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRANCE = ROOT / "examples" / "france-2018" / "study.toml"
SIMULATED = ROOT / "examples" / "simulated" / "study.toml"


def minimal_study() -> dict:
    """A small valid study (as parsed TOML) that tests modify."""
    return {
        "study": {"title": "Test", "country": "FR", "reference_period": "2020"},
        "settings": {"draws": 200, "seed": 3},
        "sources": [{"id": "s", "citation": "A test source."}],
        "assumptions": {"multihoming": {"value": 1.25, "low": 1.1, "high": 1.5,
                                        "status": "assumed", "source": "s"}},
        "platforms": [
            {"name": "A",
             "declared": {"value": 1000, "low": 900, "high": 1100, "status": "published",
                          "source": "s"},
             "audience": {"visitors": {"value": 400, "low": 300, "high": 500,
                                       "status": "derived", "source": "s"},
                          "worker_share": {"value": 0.8, "low": 0.6, "high": 0.9,
                                           "status": "assumed", "source": "s"}}},
            {"name": "B",
             "declared": {"value": 500, "status": "published", "source": "s"},
             "audience": {"visitors": {"value": 100, "status": "derived", "source": "s"}}},
        ],
    }


@pytest.fixture
def study_dict() -> dict:
    return copy.deepcopy(minimal_study())


@pytest.fixture(scope="session")
def france_dict() -> dict:
    return tomllib.loads(FRANCE.read_text())
