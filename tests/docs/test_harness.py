"""The code-block harness itself: it must catch stale figures, not only run code."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest
import typer.main

from crowdcensus.cli import app

from . import codeblocks as cb


def test_the_harness_examples_hold():
    result = doctest.testmod(cb, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 6 and result.failed == 0


@pytest.mark.parametrize(("shown", "value", "ok"), [
    ("266,126", 266_126.4, True), ("266,126", 266_127.6, False),
    ("0.7434", 0.74344, True), ("0.7434", 0.7445, False), ("-0.0", -0.04, True),
    ("2", 2.4, True), ("2", 3.2, False), ("438.2", 438.17, True), ("438.2", 437.8, False),
])
def test_figures_agree_to_the_last_digit_shown(shown, value, ok):
    assert cb.same_number(shown, value) is ok


def test_output_matching_catches_a_stale_figure_and_a_changed_word():
    printed = "selected model:       [12,3]\npopulation estimate:  268.8  (unobserved: 145.8)\n"
    assert cb.output_matches("selected model: [12,3]\npopulation estimate: 268.8 ...", printed)
    assert not cb.output_matches("selected model: [12,3]\npopulation estimate: 258.8 ...",
                                 printed)
    assert not cb.output_matches("selected model: [12,23] ...", printed)
    # without a trailing '...' the whole output must be shown
    assert not cb.output_matches("selected model: [12,3]", printed)
    assert cb.output_matches('{"popest": 157.1667, ..., "model": "[12,23]", ...}',
                             '{\n  "popest": 157.16666,\n  "stderr": 22.15,\n'
                             '  "model": "[12,23]",\n  "lists": ["b"]\n}')


def test_commented_figures_are_compared_with_the_value():
    assert cb.check_figures(["81.08", "5.57"], (81.0812, 5.5688)) is None
    assert cb.check_figures(["81.08", "5.57"], (81.2, 5.5688)) is not None
    assert cb.check_figures(["'Mth Poisson2'"], "Mth Poisson2") is None
    assert cb.check_figures(["'Mth Poisson2'"], "Mt") is not None
    assert cb.check_figures(["1", "2"], [1.0]) is not None


def _page(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    return page


def test_a_python_block_fails_on_a_wrong_figure(tmp_path, monkeypatch):
    monkeypatch.setattr(cb, "ROOT", tmp_path)
    page = _page(tmp_path, "```python\nx = 2 / 3\nx  # 0.667\nx * 2  # 1.2\n```\n")
    (block,) = cb.blocks(page)
    with pytest.raises(AssertionError, match=r"page.md:4: the comment shows 1.2"):
        cb.run_python(block, {})


def test_markers_and_indented_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(cb, "ROOT", tmp_path)
    page = _page(tmp_path, "<!-- docs-test: skip needs a server -->\n```sh\nserve\n```\n\n"
                 "<!-- docs-test: replace '--replicates 200' '--replicates 2' -->\n"
                 "```sh\nvalidate --replicates 200\n```\n\n```sh\nls\n```\n")
    first, second, third = cb.blocks(page)
    assert first.skip == "needs a server" and not second.skip and not third.skip
    assert second.source() == "validate --replicates 2\n" and third.replace == []
    with pytest.raises(cb.IndentedBlockError):
        cb.blocks(_page(tmp_path, "Text\n\n    crowdcensus run x\n"))


def test_console_sessions_and_commands_that_do_not_exist(tmp_path, monkeypatch):
    session = cb.console_session("$ crowdcensus estimate closed a.csv \\\n    --ci profile\n"
                                 "line 1\nline 2\n$ echo $?\n2\n")
    assert session == [("crowdcensus estimate closed a.csv  --ci profile", "line 1\nline 2"),
                       ("echo $?", "2")]
    monkeypatch.setattr(cb, "ROOT", tmp_path)
    page = _page(tmp_path, "```text\ncrowdcensus estimate closed FILE [--ci profile]\n"
                 "crowdcensus estimate closed FILE --no-such-option\ncrowdcensus estimat\n"
                 "crowdcensus estimate closed FILE [--model NAME]\n    [--wrapped-bad]\n```\n")
    problems = cb.check_command_lines(cb.blocks(page)[0], typer.main.get_command(app))
    assert len(problems) == 3
    assert "--no-such-option" in problems[0] and "names no command" in problems[1]
    assert "--wrapped-bad" in problems[2] and "--model" not in problems[2].split("option")[1]


def test_a_console_block_runs_in_one_shell_and_checks_each_output(tmp_path, monkeypatch):
    monkeypatch.setattr(cb, "ROOT", tmp_path)
    page = _page(tmp_path, "```console\n$ false\n$ echo $?\n1\n$ echo 0.45\n0.3\n```\n")
    with pytest.raises(AssertionError, match="echo 0.45"):
        cb.run_console(cb.blocks(page)[0], tmp_path, {"PATH": "/usr/bin:/bin"})
    page = _page(tmp_path, "```console\n$ false\n$ echo $?\n1\n$ echo 0.25\n0.25\n```\n")
    cb.run_console(cb.blocks(page)[0], tmp_path, {"PATH": "/usr/bin:/bin"})


def test_a_block_that_would_reach_another_machine_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(cb, "ROOT", tmp_path)
    page = _page(tmp_path, "```sh\ncurl https://survey.example.org/api/studies\n```\n\n"
                 "```sh\ncurl http://127.0.0.1:8000/api/studies\n```\n")
    remote, local = cb.blocks(page)
    with pytest.raises(AssertionError, match="survey.example.org"):
        remote.source()
    assert local.source().startswith("curl http://127.0.0.1:8000")
