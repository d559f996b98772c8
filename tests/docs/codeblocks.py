"""Run the code blocks of README.md and docs/**/*.md, and check the outputs they show.

A page's blocks run in order in one sandbox directory (a fresh temporary directory
holding the files of ``tests/docs/fixtures/`` and links to the repository's
``examples/`` and ``tests/``), so a later block can use what an earlier one made.
What happens to a fenced block depends on its language:

``python``
    executed, all blocks of a page in one namespace. A top-level expression whose
    line ends with a comment starting with figures (``m.abundance_  # (81.08, 5.57)``)
    is evaluated and its value compared with those figures (see :func:`same_number`).
``pycon``
    a doctest session (``>>>`` prompts), ELLIPSIS and NORMALIZE_WHITESPACE.
``console``
    ``$ command`` lines run in one bash session (stderr merged into stdout); the
    lines after a command are its expected output, compared token by token with
    ``...`` standing for anything. A command shown without output is not checked.
``sh``
    run as one bash script with ``set -e``; it must succeed.
``toml``, ``json``, ``csv``
    parsed; a syntax error fails.
``text``
    not run: diagrams, formulas, synopses, sample outputs. Every line of any
    block that is not run and starts with ``crowdcensus`` must still name a real
    command and only options it has.

An HTML comment on the line before a fence changes that (see docs/contributing.md):
``<!-- docs-test: skip REASON -->`` leaves the block out (kept few: see
``SKIP_BUDGET`` in test_code_blocks.py); ``<!-- docs-test: replace 'OLD' 'NEW' -->``
runs it with OLD replaced by NEW (a smaller run of the same command).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import math
import re
import shlex
import subprocess
import tokenize
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
LANGUAGES = {"python", "pycon", "console", "sh", "toml", "json", "csv", "text"}
#: URLs in a block that is run must be on this machine (the loopback range).
URL = re.compile(r"\bhttps?://[^\s'\"]+")
LOOPBACK = re.compile(r"https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(?=[:/]|$)")
MARKER = re.compile(r"<!--\s*docs-test:\s*(\w[\w-]*)\s*(.*?)\s*-->", re.S)


def pages() -> list[Path]:
    """README.md and every Markdown page of docs/, in a stable order."""
    docs = sorted(p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts)
    return [ROOT / "README.md", *docs]


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    skip: str | None = None
    replace: list[tuple[str, str]] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    def source(self) -> str:
        code = self.code
        for old, new in self.replace:
            if old not in code:
                raise AssertionError(f"{self.where}: replace marker: {old!r} is not in the block")
            code = code.replace(old, new)
        remote = [url for url in URL.findall(code) if not LOOPBACK.match(url)]
        if remote:
            raise AssertionError(f"{self.where}: the block would reach {remote[0]}: tests send "
                                 "traffic to this machine only; mark the block skip or point "
                                 "it at 127.0.0.1")
        return code


class IndentedBlockError(Exception):
    """A page has an indented code block: fence it and give it a language."""


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of ``page``, with the marker placed before each."""
    tokens = MarkdownIt("commonmark").parse(page.read_text(encoding="utf-8"))
    found: list[Block] = []
    pending: list[tuple[str, str]] = []
    for token in tokens:
        if token.type == "html_block":
            pending = [(m.group(1), m.group(2)) for m in MARKER.finditer(token.content)]
            continue
        if token.type == "code_block":
            raise IndentedBlockError(f"{page.relative_to(ROOT)}:{token.map[0] + 1}: indented code "
                                "block; use a fenced block with a language")
        if token.type == "fence" and token.info.startswith("{"):
            pending = []  # a MyST directive (toctree, eval-rst...), not code
            continue
        if token.type == "fence":
            block = Block(page, token.map[0] + 1, token.info.split()[0] if token.info else "",
                          token.content)
            for name, arg in pending:
                if name == "skip":
                    block.skip = arg or "(no reason given)"
                elif name == "replace":
                    words = shlex.split(arg)
                    if len(words) % 2:
                        raise AssertionError(f"{block.where}: replace takes pairs OLD NEW")
                    block.replace += list(zip(words[::2], words[1::2]))
                else:
                    raise AssertionError(f"{block.where}: unknown docs-test marker {name!r}")
            found.append(block)
        if token.type != "html_block" and token.nesting >= 0:
            pending = []
    return found


# -- comparing figures --------------------------------------------------------------------

NUMBER = r"[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?"
TOKEN = re.compile(rf"\.\.\.|…|(?<![\w.]){NUMBER}|\w+|\S")
IS_NUMBER = re.compile(rf"{NUMBER}$")
#: A figure shown in the docs matches a value within this many units of its last digit
#: (the value rounded to the digits shown, with room for a rounding that went the other
#: way): loose enough for the last digit of a float, tight enough for a stale figure.
LAST_DIGIT_UNITS = 1.0


def parse_number(text: str) -> float:
    return float(text.replace(",", "").replace("−", "-"))


def same_number(shown: str, value: float) -> bool:
    """``shown`` (as printed in the docs) agrees with ``value`` to the digits shown.

    Within one unit of the last digit shown (``LAST_DIGIT_UNITS``).

    >>> same_number("81.08", 81.0812), same_number("81.08", 81.095)
    (True, False)
    >>> same_number("266,126", 266125.98), same_number("3.51e-05", 3.5123e-05)
    (True, True)
    """
    expected = parse_number(shown)
    if not math.isfinite(value):
        return False
    mantissa = shown.replace(",", "").lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(shown.lower().split("e")[1]) if "e" in shown.lower() else 0
    tolerance = LAST_DIGIT_UNITS * 10.0 ** (exponent - decimals)
    return abs(value - expected) <= tolerance * (1 + 1e-9)


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def _token_matches(shown: str, actual: str) -> bool:
    if shown == actual:
        return True
    if IS_NUMBER.match(shown) and IS_NUMBER.match(actual):
        return same_number(shown, parse_number(actual))
    return False


def output_matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` matches ``expected`` token by token (whitespace ignored).

    ``...`` (or ``…``) in ``expected`` stands for any run of tokens; numbers agree to
    the digits shown (:func:`same_number`).

    >>> output_matches("population estimate: 268.8 (unobserved: ...)",
    ...                "population estimate:  268.78  (unobserved: 145.78)")
    True
    >>> output_matches("population estimate: 268.8", "population estimate: 270.1")
    False
    """
    pattern, text = tokens(expected), tokens(actual)
    i = j = 0
    star = -1
    resume = 0
    while j < len(text):
        if i < len(pattern) and pattern[i] in ("...", "…"):
            star, resume = i, j
            i += 1
        elif i < len(pattern) and _token_matches(pattern[i], text[j]):
            i += 1
            j += 1
        elif star >= 0:
            resume += 1
            i, j = star + 1, resume
        else:
            return False
    while i < len(pattern) and pattern[i] in ("...", "…"):
        i += 1
    return i == len(pattern)


def first_difference(expected: str, actual: str) -> str:
    """A short hint at where two outputs part (for failure messages)."""
    for k, (a, b) in enumerate(zip(tokens(expected), tokens(actual))):
        if a in ("...", "…"):
            return "the outputs part after a '...'"
        if not _token_matches(a, b):
            return f"token {k}: the docs show {a!r}, the command printed {b!r}"
    return "one output is longer than the other"


# -- figures in Python comments ------------------------------------------------------------

_LEAD = re.compile(rf"\s*(?:'[^']*'|\"[^\"]*\"|{NUMBER}|[(),\[\]])")


def comment_figures(comment: str) -> list[str]:
    """The figures and quoted strings a comment starts with (before any prose).

    >>> comment_figures("# (71.82, 93.85), profile likelihood at level=0.95")
    ['71.82', '93.85']
    >>> comment_figures("# ('[12,3]', 268.78)"), comment_figures("# DataFrame: per period")
    (["'[12,3]'", '268.78'], [])
    """
    text, found, pos = comment.lstrip("#"), [], 0
    while m := _LEAD.match(text, pos):
        item = m.group(0).strip()
        if item not in "(),[]":
            found.append(item)
        pos = m.end()
    return found


def flatten(value) -> list:
    """Numbers and strings of a value, in order (tuples, lists, dicts, dataclasses)."""
    if isinstance(value, str):
        return [value]
    if hasattr(value, "_asdict"):
        value = tuple(value._asdict().values())
    elif hasattr(value, "__dataclass_fields__"):
        value = tuple(getattr(value, f) for f in value.__dataclass_fields__)
    if isinstance(value, dict):
        value = tuple(value.values())
    if isinstance(value, (tuple, list)):
        return [x for item in value for x in flatten(item)]
    try:
        return [float(value)]
    except (TypeError, ValueError):
        return [value]


def check_figures(figures: list[str], value) -> str | None:
    """None if ``value`` shows ``figures``, else what differs."""
    items = flatten(value)
    if len(items) < len(figures):
        return f"the comment shows {figures}, the value is {value!r}"
    for shown, got in zip(figures, items):
        if shown[0] in "'\"":
            if got != shown[1:-1]:
                return f"the comment shows {shown}, the value is {got!r}"
        elif not (isinstance(got, float) and same_number(shown, got)):
            return f"the comment shows {shown}, the value is {got!r}"
    return None


def run_python(block: Block, namespace: dict) -> None:
    """Execute a python block statement by statement, checking commented figures."""
    source = block.source()
    tree = ast.parse(source, filename=block.where)
    comments = {tok.start[0]: tok.string
                for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.COMMENT}
    for node in tree.body:
        where = f"{block.page.relative_to(ROOT)}:{block.line + node.lineno}"
        figures = comment_figures(comments.get(node.end_lineno, ""))
        if isinstance(node, ast.Expr) and figures:
            value = eval(compile(ast.Expression(node.value), where, "eval"), namespace)
            problem = check_figures(figures, value)
            if problem:
                raise AssertionError(f"{where}: {problem}")
        else:
            exec(compile(ast.Module([node], type_ignores=[]), where, "exec"), namespace)


# -- shell ---------------------------------------------------------------------------------


def console_session(code: str) -> list[tuple[str, str]]:
    """``(command, expected output)`` pairs of a console block (``\\`` joins lines)."""
    session: list[tuple[str, list[str]]] = []
    lines = code.splitlines()
    k = 0
    while k < len(lines):
        line = lines[k]
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\") and k + 1 < len(lines):
                k += 1
                command = command[:-1] + " " + lines[k].strip()
            session.append((command, []))
        elif session:
            session[-1][1].append(line)
        else:
            raise AssertionError(f"console block starts with {line!r}, not a '$ ' command")
        k += 1
    return [(cmd, "\n".join(out).strip()) for cmd, out in session]


def run_bash(script: str, cwd: Path, env: dict,
             timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def run_console(block: Block, cwd: Path, env: dict) -> None:
    session = console_session(block.source())
    sep = "@@docs-test-command-{}@@"
    parts = ["exec 2>&1", "__rc=0"]
    for k, (command, _) in enumerate(session):
        parts += [f"echo; echo {sep.format(k)}", "(exit $__rc)", command, "__rc=$?"]
    done = run_bash("\n".join(parts) + "\n", cwd, env)
    outputs = re.split(r"\n?@@docs-test-command-\d+@@\n", done.stdout)[1:]
    if len(outputs) != len(session):
        raise AssertionError(f"{block.where}: the session stopped early:\n{done.stdout[-2000:]}")
    for (command, expected), actual in zip(session, outputs):
        if expected and not output_matches(expected, actual):
            raise AssertionError(
                f"{block.where}: `{command}` printed something else than the docs show "
                f"({first_difference(expected, actual)}).\n--- docs:\n{expected}\n"
                f"--- printed:\n{actual.strip()[:3000]}")


def run_sh(block: Block, cwd: Path, env: dict) -> None:
    done = run_bash("set -e\n" + block.source(), cwd, env)
    if done.returncode != 0:
        raise AssertionError(f"{block.where}: exit status {done.returncode}\n"
                             f"{(done.stdout + done.stderr)[-3000:]}")


def check_data(block: Block) -> None:
    try:
        if block.language == "toml":
            tomllib.loads(block.code)
        elif block.language == "json":
            json.loads(block.code)
        elif block.language == "csv":
            rows = list(csv.reader(io.StringIO(block.code)))
            widths = {len(r) for r in rows if r}
            if len(widths) != 1:
                raise ValueError(f"rows of different lengths: {sorted(widths)}")
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise AssertionError(f"{block.where}: not valid {block.language}: {exc}") from None


# -- commands in blocks that do not run ----------------------------------------------------

_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def check_command_lines(block: Block, cli) -> list[str]:
    """Problems with the ``crowdcensus ...`` lines of a block that is not run.

    ``cli`` is the click command of ``crowdcensus``. Each line starting with
    ``crowdcensus`` (after an optional ``$ ``) must name an existing command, and
    every ``--option`` on it (or on its continuation lines: after a ``\\``, or
    indented) must be one of
    that command's.
    """
    problems = []
    # a backslash continues a line; so does an indented line (synopses wrap that way)
    text = re.sub(r"\\\n", " ", block.code)
    text = re.sub(r"\n[ \t]+(?=\S)", " ", text)
    for line in text.splitlines():
        line = line.strip().removeprefix("$ ")
        if not line.startswith("crowdcensus ") and line != "crowdcensus":
            continue
        command = cli
        words = line.split()[1:]
        for word in words:
            subs = getattr(command, "commands", None)
            if not subs or word not in subs:
                break
            command = subs[word]
        if getattr(command, "commands", None):
            problems.append(f"{block.where}: `{line}` names no command")
            continue
        known = {opt for param in command.params for opt in param.opts} | {"--help"}
        unknown = [o for o in _OPTION.findall(line.split("#")[0]) if o not in known]
        if unknown:
            problems.append(f"{block.where}: `{line}`: no such option {unknown}")
    return problems
