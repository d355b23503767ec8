"""Protocols the core depends on; concrete classes are chosen in the composition root."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """The current time (a fake in tests)."""

    def now(self) -> datetime:
        """Timezone-aware now."""


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Timezone-aware UTC now."""
        return datetime.now(UTC)
