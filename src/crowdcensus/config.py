"""Configuration files (study, scenario): TOML reading and one-line validation errors.

The pydantic models live with their areas (:mod:`crowdcensus.study`,
:mod:`crowdcensus.simulate.scenario`); this module turns a file into a dict
(:func:`read_toml`) and a pydantic :class:`~pydantic.ValidationError` into one line
naming each field at fault by its path (:func:`validate`), for example
``study.toml: platforms[2].declared.value: must be a positive number``.

>>> from pydantic import BaseModel, Field
>>> class Point(BaseModel):
...     x: float = Field(gt=0)
...     tags: list[str] = []
>>> validate(Point, {"x": -1, "tags": ["a", 2]}, "point.toml")
Traceback (most recent call last):
...
crowdcensus.errors.InputError: point.toml: x: must be a positive number (and 1 more: tags[1]: must be a text string)
"""  # noqa: E501

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from crowdcensus.errors import InputError

M = TypeVar("M", bound=BaseModel)


def parse_toml(text: str, label: str) -> dict[str, Any]:
    """Parse TOML text; a syntax error becomes one line naming ``label``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{label}: not valid TOML ({exc})") from exc


def read_toml(path: str | Path, kind: str = "configuration file") -> dict[str, Any]:
    """Read a TOML file (``kind`` names it in errors: "study file", "scenario file")."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not a {kind}")
    try:
        # a byte-order mark (Windows editors write one) is not part of the TOML
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not UTF-8 text ({exc.reason}): a TOML file is saved as "
                         "UTF-8") from exc
    return parse_toml(text, str(p))


def validate(
    model: type[M],
    data: dict[str, Any],
    name: str,
    relocate: Callable[[str], str] | None = None,
) -> M:
    """``model.model_validate(data)``, or one :class:`InputError` line naming ``name``.

    ``relocate`` may rewrite each ``path: problem`` line (e.g. to point at the
    line of another file the data came from).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = format_validation_errors(exc)
        if relocate is not None:
            lines = [relocate(line) for line in lines]
        raise validation_input_error(name, lines) from exc


class FieldError(ValueError):
    """Raised inside a pydantic validator to point at a sub-field of the model validated.

    ``field`` is the path relative to that model (``"low"``, ``"classes[2].name"``);
    :func:`format_validation_errors` joins it to the model's own path.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"@{field}@ {message}")


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "unknown field",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "string_type": "must be a text string",
    "bool_type": "must be true or false",
    "list_type": "must be a list ([[...]] tables or [...])",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "finite_number": "must be a finite number",
    "too_short": "must not be empty",
}


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "literal[", "constrained-")):
            continue  # union-branch labels added by pydantic
        else:
            out += ("." if out else "") + str(part)
    return out


def _message(err: dict) -> tuple[str, str]:
    """The (field path, problem) of one pydantic error."""
    loc = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "value_error":
        text = str(ctx.get("error", err["msg"]))
        if text.startswith("@"):
            sub, _, msg = text[1:].partition("@ ")
            return _path(loc + tuple(_split(sub))), msg
        return _path(loc), text
    if kind == "greater_than":
        gt = ctx.get("gt")
        msg = "must be a positive number" if gt == 0 else f"must be greater than {gt}"
        return _path(loc), msg
    if kind in ("greater_than_equal", "less_than_equal", "less_than"):
        bound = next(iter(ctx.values()), "")
        word = {"greater_than_equal": "at least", "less_than_equal": "at most",
                "less_than": "less than"}[kind]
        if "Fraction" in str(err.get("msg")) or (kind == "less_than_equal" and bound == 1):
            return _path(loc), "must be a proportion between 0 and 1"
        if isinstance(bound, float) and bound.is_integer() and abs(bound) >= 1e4:
            bound = f"{bound:,.0f}"          # 10,000,000,000, not 10000000000.0
        return _path(loc), f"must be {word} {bound}"
    if kind == "literal_error":
        return _path(loc), f"must be one of {ctx.get('expected', '')}"
    if kind in ("float_parsing", "float_type") and str(err.get("input")) != "estimate":
        return _path(loc), "must be a number"
    return _path(loc), _MESSAGES.get(kind, err["msg"][0].lower() + err["msg"][1:])


def _split(sub: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in sub.split("."):
        name, *indices = piece.replace("]", "").split("[")
        parts.append(name)
        parts.extend(int(i) for i in indices)
    return parts


def validation_input_error(name: str, lines: list[str]) -> InputError:
    """One line for a file's validation errors: the first in full, the others after it."""
    more = f" (and {len(lines) - 1} more: {'; '.join(lines[1:])})" if len(lines) > 1 else ""
    return InputError(f"{name}: {lines[0]}{more}")


def format_validation_errors(exc: ValidationError) -> list[str]:
    """One ``path: problem`` line per distinct error of a pydantic validation."""
    lines: list[str] = []
    seen_paths: set[str] = set()
    for err in exc.errors(include_url=False):
        path, msg = _message(err)
        # a union (number | "estimate") reports once per branch: keep the first
        if path in seen_paths:
            continue
        seen_paths.add(path)
        lines.append(f"{path}: {msg}" if path else msg)
    return lines


