"""Matplotlib without global state: figures are built on :class:`matplotlib.figure.Figure`.

crowdcensus never selects a matplotlib backend. Plots made for files (the CLI's
``--plot``, the HTML reports) draw on a bare :class:`~matplotlib.figure.Figure`,
which needs no backend to be saved. A model's ``plot()`` called without an
``ax`` makes its figure through :mod:`matplotlib.pyplot` only when the caller has
already imported pyplot (a notebook, an interactive session: the figure then
shows as any other); otherwise it uses a bare Figure too.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from crowdcensus.errors import InputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: File suffixes a figure can be written to.
FORMATS = (".png", ".svg", ".pdf")


def new_figure(figsize: tuple[float, float] = (6.0, 4.0)) -> Figure:
    """A new figure: pyplot's when the caller uses pyplot, else a bare Figure."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        return pyplot.figure(figsize=figsize)
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def axes_or_new(ax: Axes | None, figsize: tuple[float, float] = (6.0, 4.0)) -> Axes:
    """``ax`` itself, or the single Axes of a :func:`new_figure`."""
    return ax if ax is not None else new_figure(figsize).subplots()


def file_figure(figsize: tuple[float, float]) -> Figure:
    """A bare Figure for a file (never shown, never registered with pyplot)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def check_plot_path(path: str | Path) -> Path:
    """Refuse, before any work, a plot file with an unknown suffix or a missing folder."""
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        raise InputError(f"--plot file must end in {', '.join(FORMATS)} (got {p.name!r})")
    if not p.parent.exists():
        raise InputError(f"the folder of --plot does not exist: {p.parent}")
    return p


def save_figure(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write a figure to a PNG, SVG or PDF file (the suffix decides)."""
    p = Path(path)
    fig.savefig(p, dpi=dpi)
    return p


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """A figure as PNG bytes (tight bounding box)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()
