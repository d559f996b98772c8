"""Checks shared by every typed field: numbers with a decimal comma, control characters, ids.

* :func:`parse_decimal` reads what a person types as a number, in French or
  English: ``7,5`` and ``7.5`` are both 7.5; ``1_0``, ``1e1``, ``٣`` or
  ``7.5.1`` are refused (Python's ``float`` would accept the first three).
* :func:`has_control` finds NUL and the other control characters (Unicode
  category ``Cc``), refused in every text field: PostgreSQL cannot store NUL
  and none belongs in a title, a contact or an identifier.
* :data:`MAX_ID` bounds every numeric id taken from a URL: PostgreSQL's
  ``integer`` holds 2**31 - 1 at most, and a larger id would reach the driver
  as an overflow (a 500) instead of "not found".
"""

from __future__ import annotations

import re
import unicodedata

MAX_ID = 2**31 - 1

_DECIMAL = re.compile(r"^(?P<int>[0-9]{0,9})(?:[.,](?P<frac>[0-9]*))?$")


def parse_decimal(text: str, max_decimals: int) -> float | None:
    """The number typed in ``text``, or None when it is not one.

    Accepts digits with at most one decimal separator, a point or a comma, and
    at most ``max_decimals`` digits after it (``max_decimals=0``: a whole
    number). Spaces around are ignored; signs, exponents, underscores,
    thousands separators and non-ASCII digits are not numbers here.
    """
    if not isinstance(text, str):
        return None
    match = _DECIMAL.match(text.strip())
    if match is None:
        return None
    whole, frac = match.group("int"), match.group("frac")
    if frac is None:
        if not whole:
            return None
        return float(whole)
    if len(frac) > max_decimals or not (whole or frac):
        return None
    return float(f"{whole or '0'}.{frac or '0'}")


def parse_whole(text: str) -> int | None:
    """A whole number typed in ``text`` (``12``), or None."""
    value = parse_decimal(text, 0)
    return None if value is None else int(value)


def has_control(text: str) -> bool:
    """Whether ``text`` holds NUL or another control character (category Cc)."""
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def no_control(value: str) -> str:
    """Pydantic validator: refuse control characters in a text field."""
    if has_control(value):
        raise ValueError("control characters (such as NUL, tab or a line break) are not "
                         "allowed here")
    return value


def valid_id(value: int) -> bool:
    """Whether ``value`` can be a row id (1 to :data:`MAX_ID`)."""
    return 1 <= value <= MAX_ID
