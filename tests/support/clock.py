"""A clock tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """Starts at a fixed time; advance() moves it."""

    def __init__(self) -> None:
        self.current = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The fake now."""
        return self.current

    def advance(self, **delta: float) -> None:
        """Move the clock forward."""
        self.current += timedelta(**delta)
