"""Every code block of README.md and docs/ runs, and shows what the code gives.

How each kind of block is treated, and the markers that change it, are in
``codeblocks.py`` and docs/contributing.md.
"""

from __future__ import annotations

import doctest
import os
import shutil
import sys
from pathlib import Path

import pytest
import typer.main

from crowdcensus.cli import app

from . import codeblocks as cb

#: Blocks left out with `<!-- docs-test: skip ... -->`: each needs a reason, and there
#: must stay few of them (the others run).
SKIP_BUDGET = 13
#: Pages whose blocks take more than ~15 s in all (bootstraps, pipelines, simulations).
SLOW_PAGES = {"README.md", "docs/mse-open.md", "docs/getting-started.md", "docs/validation.md",
              "docs/validation-notebook.md", "docs/study-file.md"}
RUNS = {"python", "pycon", "console", "sh"}


def _page_id(page: Path) -> str:
    return str(page.relative_to(cb.ROOT))


def _params():
    for page in cb.pages():
        rel = _page_id(page)
        slow = rel in SLOW_PAGES or rel.startswith("docs/tutorials/")
        marks = [pytest.mark.slow] if slow else []
        yield pytest.param(page, id=rel, marks=marks)


#: Data sets the pages read by their bare names: the bundled ones and two test copies
#: of R packages' data (the fixtures of tests/docs/fixtures/ come on top).
DATA = {p.name: p for p in sorted((cb.ROOT / "src" / "crowdcensus" / "datasets").glob("*.csv"))}
DATA.update({
    "korea.csv": cb.ROOT / "tests" / "mse" / "data" / "korea.csv",
    "duck.csv": cb.ROOT / "tests" / "openpop" / "data" / "duck.csv",
    # five occasions, 98 caught, one recapture (README: sparse closed data)
    "sparse.csv": cb.ROOT / "tests" / "capture" / "data" / "generated" / "hist" / "sparse5.csv",
})


def _sandbox(tmp: Path) -> Path:
    for name, item in [*DATA.items(), *((p.name, p) for p in cb.FIXTURES.iterdir())]:
        shutil.copy(item, tmp / name)
    for name in ("examples", "tests"):
        (tmp / name).symlink_to(cb.ROOT / name, target_is_directory=True)
    # "your own study" in the docs: the France example stands in for it
    (tmp / "my-study.toml").symlink_to(cb.ROOT / "examples" / "france-2018" / "study.toml")
    return tmp


def _env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROWDCENSUS_")}
    # the joint model by its Laplace approximation, as in the rest of the suite (NUTS
    # is tested in tests/synthesis); JAX's compilation cache shared with the suite
    for key in ("CROWDCENSUS_INFERENCE", "CROWDCENSUS_JAX_CACHE"):
        if key in os.environ:
            env[key] = os.environ[key]
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(MPLBACKEND="Agg", COLUMNS="200", PYTHONHASHSEED="0", NO_COLOR="1",
               TMPDIR=str(tmp))
    return env


@pytest.mark.parametrize("page", list(_params()))
def test_code_blocks_run_and_show_what_the_code_gives(page, tmp_path, monkeypatch):
    sandbox = _sandbox(tmp_path)
    env = _env(tmp_path)
    monkeypatch.chdir(sandbox)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    namespace: dict = {"__name__": "__docs__"}
    ran = 0
    for block in cb.blocks(page):
        if block.skip or block.language not in RUNS:
            continue
        ran += 1
        if block.language == "python":
            cb.run_python(block, namespace)
        elif block.language == "pycon":
            test = doctest.DocTestParser().get_doctest(block.source(), namespace, block.where,
                                                       str(page), block.line)
            runner = doctest.DocTestRunner(
                optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
            runner.run(test)
            assert runner.failures == 0, f"{block.where}: doctest failed (output above)"
        elif block.language == "console":
            cb.run_console(block, sandbox, env)
        else:
            cb.run_sh(block, sandbox, env)
    try:
        import matplotlib.pyplot as plt

        plt.close("all")
    except ImportError:  # pragma: no cover
        pass
    if not ran:
        pytest.skip("no block to run on this page")


@pytest.mark.parametrize("page", cb.pages(), ids=_page_id)
def test_every_block_has_a_known_language_and_data_blocks_parse(page):
    for block in cb.blocks(page):
        assert block.language in cb.LANGUAGES, (
            f"{block.where}: fenced block with language {block.language!r}; use one of "
            f"{sorted(cb.LANGUAGES)} (docs/contributing.md)")
        if block.language in ("toml", "json", "csv") and not block.skip:
            cb.check_data(block)


def test_commands_in_blocks_that_do_not_run_exist():
    cli = typer.main.get_command(app)
    problems = [p for page in cb.pages() for block in cb.blocks(page)
                if block.skip or block.language not in RUNS
                for p in cb.check_command_lines(block, cli)]
    assert not problems, "\n".join(problems)


def test_skipped_blocks_are_few_and_say_why():
    skipped = [b for page in cb.pages() for b in cb.blocks(page) if b.skip]
    listing = "\n".join(f"{b.where}: {b.skip}" for b in skipped)
    assert len(skipped) <= SKIP_BUDGET, f"{len(skipped)} blocks skipped:\n{listing}"
    assert all(b.skip != "(no reason given)" for b in skipped), listing
    # the contributing page lists them, so that readers know which examples are not run
    contributing = (cb.ROOT / "docs" / "contributing.md").read_text(encoding="utf-8")
    missing = {_page_id(b.page) for b in skipped} - {
        p for p in {_page_id(b.page) for b in skipped} if Path(p).name in contributing}
    assert not missing, f"docs/contributing.md does not list the skipped blocks of {missing}"
