"""The service's clock, injectable so that tests never depend on the real time.

Everything that decides with the time of day -- whether a wave is open, when
a wave closed and the census should be recomputed, how many tokens a client's
rate-limit bucket holds -- asks ``app.state.clock`` rather than the system.
Signed tokens (participant, CSRF) keep the real time: their expiry is a
security property, not study logic.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class SystemClock:
    """The real clock: timezone-aware UTC wall time and a monotonic counter."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for rate limiting)."""
        return time.monotonic()
