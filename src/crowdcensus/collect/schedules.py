"""Recurring waves: one wave on a platform every N days until a date.

Watching a platform over months -- as the Mechanical Turk population studies
did, with a wave every few weeks -- means many waves with the same settings.
A schedule creates them all at once, in advance (each needs its own posting
on the platform, and its own kit): wave ``k`` opens at
``first_opens_at + k * every_days`` for every such time up to ``until``, and
stays open ``duration_days``. Until a wave opens, its link says the task is
not open yet, and it is not an occasion of the capture histories.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from crowdcensus.errors import InputError

MAX_WAVES = 200


def schedule_waves(label_prefix: str, first_opens_at: datetime, until: datetime,
                   every_days: int, duration_days: float) -> list[dict]:
    """The waves of a schedule: ``label``, ``opens_at`` and ``closes_at`` of each.

    Raises
    ------
    InputError
        When the schedule makes no wave, more than :data:`MAX_WAVES`, or waves
        that overlap (``duration_days`` longer than ``every_days``).
    """
    if every_days < 1:
        raise InputError("every_days must be at least 1")
    if not 0 < duration_days <= every_days:
        raise InputError("duration_days must be more than 0 and at most every_days (waves "
                         "of one platform must not overlap)")
    if until < first_opens_at:
        raise InputError("until must not be before first_opens_at")
    n = int((until - first_opens_at) / timedelta(days=every_days)) + 1
    if n > MAX_WAVES:
        raise InputError(f"the schedule would create {n} waves; at most {MAX_WAVES} (open them "
                         "less often, or end earlier)")
    width = max(2, len(str(n)))
    return [{"label": f"{label_prefix}{k + 1:0{width}d}",
             "opens_at": first_opens_at + timedelta(days=every_days * k),
             "closes_at": first_opens_at + timedelta(days=every_days * k + duration_days)}
            for k in range(n)]
