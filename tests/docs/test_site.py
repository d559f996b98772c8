"""The documentation site builds with every warning as an error (what `make docs` runs)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .codeblocks import ROOT


@pytest.mark.slow
def test_the_site_builds_without_a_warning(tmp_path):
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-m", "sphinx", "-W", "--keep-going", "-q",
         "-b", "html", "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(site)],
        capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-5000:]
    # Sphinx's warnings, and numpydoc's (Python warnings: an unknown docstring section)
    assert "WARNING" not in done.stderr and "Warning" not in done.stderr, done.stderr[-5000:]
    # every page is there, the README is the home page, the API came from the docstrings
    for page in ("index", "getting-started", "study-file", "collect", "closed-models",
                 "mse-open", "synthesis", "validation", "validation-notebook", "api",
                 "json-outputs", "contributing",
                 "tutorials/france-2018", "tutorials/simulated-census",
                 "tutorials/repeated-surveys"):
        assert (site / f"{page}.html").is_file(), page
    assert "How many people do micro-work" in (site / "index.html").read_text()
    api = (site / "api.html").read_text()
    for name in ("ClosedPopulationModel", "HugginsModel", "MultipleSystemsModel",
                 "OpenPopulationModel",
                 "read_histories", "run_study", "load_study", "abundance_"):
        assert name in api, name
