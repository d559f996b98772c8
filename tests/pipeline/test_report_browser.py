"""The report opened in headless Chromium (Debian's /usr/bin/chromium through Playwright).

Skipped when Chromium or Playwright is missing, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from crowdcensus.pipeline import run_study
from crowdcensus.report import write_report

from .conftest import FRANCE, SIMULATED

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


def _need_browser():
    in_ci = os.environ.get("CI", "").lower() == "true"
    missing = None
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        missing = f"{CHROMIUM} is not installed"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed"
    if missing:
        if in_ci:
            pytest.fail(f"browser test cannot run in CI: {missing}")
        pytest.skip(missing)


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def _open(browser, html: Path):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.goto(html.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, problems


def _image_widths(page) -> dict[str, int]:
    return page.evaluate(
        "() => Object.fromEntries([...document.images].map(i => [i.id, i.naturalWidth]))")


@pytest.mark.parametrize("study", [FRANCE, SIMULATED], ids=["france", "simulated"])
def test_report_loads_and_shows_tiers_and_plots(browser, tmp_path, study):
    html = write_report(run_study(study, draws=300), tmp_path)
    page, problems = _open(browser, html)
    try:
        assert problems == []
        rows = page.locator("#tier-table tbody tr")
        assert rows.count() == 3
        assert page.locator("#disjoint-table tbody tr").count() == 4
        widths = _image_widths(page)
        assert set(widths) == {"plot-tiers", "plot-methods", "plot-sensitivity"}
        assert all(w > 0 for w in widths.values()), widths
        text = page.inner_text("#tier-table")
        if study == FRANCE:
            for figure in ("266,126", "52,337", "14,903"):
                assert figure in text
        else:
            assert page.locator(".simulated-banner").is_visible()
            assert page.locator("#capture-table tbody tr").count() >= 8
    finally:
        page.close()
