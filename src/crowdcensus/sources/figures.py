"""Platform figures of a study: declared registrations and web audience, as named inputs.

Each figure is one of the study's ranged inputs, known by its field path in
the study file (e.g. ``platforms[0].declared``); the methods read the values
of those paths, whether central values, range ends or Monte Carlo draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crowdcensus.study import Study


@dataclass(frozen=True)
class AudienceFigure:
    """A platform's audience: the path of its visitors and of its worker share (or None)."""

    platform: str
    visitors: str
    worker_share: str | None


@dataclass(frozen=True)
class PlatformFigures:
    """Field paths of the declared and audience figures, platform by platform."""

    declared: list[tuple[str, str]] = field(default_factory=list)
    audience: list[AudienceFigure] = field(default_factory=list)


def platform_figures(study: Study) -> PlatformFigures:
    """Collect the paths of every platform's declared and audience figures."""
    declared: list[tuple[str, str]] = []
    audience: list[AudienceFigure] = []
    for i, p in enumerate(study.platforms):
        if p.declared is not None:
            declared.append((p.name, f"platforms[{i}].declared"))
        if p.audience is not None:
            share = (f"platforms[{i}].audience.worker_share"
                     if p.audience.worker_share is not None else None)
            audience.append(AudienceFigure(p.name, f"platforms[{i}].audience.visitors", share))
    return PlatformFigures(declared, audience)
