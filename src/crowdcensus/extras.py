"""Optional extras: what each needs, and one clear line when it is missing.

The core installation estimates, runs studies and writes reports. The collection
service (``crowdcensus[collect]``), PostgreSQL (``crowdcensus[postgres]``) and Dask
clusters (``crowdcensus[dask]``) are extras.
"""

from __future__ import annotations

import importlib.util

from crowdcensus.errors import CrowdcensusError

#: The modules that must be importable for each extra (as pyproject.toml declares it).
EXTRAS: dict[str, tuple[str, ...]] = {
    "collect": ("fastapi", "uvicorn", "multipart", "sqlalchemy", "alembic", "httpx"),
    "postgres": ("psycopg",),
    "dask": ("distributed",),
}


class MissingExtraError(CrowdcensusError, ImportError):
    """A feature needs an optional extra that is not installed (exit code 2)."""


def missing_modules(extra: str, modules: tuple[str, ...] | None = None) -> list[str]:
    """The modules of ``extra`` (or the ``modules`` given) that cannot be imported."""
    wanted = EXTRAS[extra] if modules is None else modules
    return [m for m in wanted if importlib.util.find_spec(m) is None]


def require_extra(extra: str, what: str, modules: tuple[str, ...] | None = None) -> None:
    """Raise :class:`MissingExtraError` unless ``extra`` is installed.

    >>> require_extra("collect", "crowdcensus serve", modules=("json",))  # present: no error
    >>> require_extra("collect", "crowdcensus serve", modules=("no_such_module_x",))
    Traceback (most recent call last):
    ...
    crowdcensus.extras.MissingExtraError: crowdcensus serve needs the collect extra: pip install 'crowdcensus[collect]'
    """  # noqa: E501
    if missing_modules(extra, modules):
        raise MissingExtraError(
            f"{what} needs the {extra} extra: pip install 'crowdcensus[{extra}]'"
        )
