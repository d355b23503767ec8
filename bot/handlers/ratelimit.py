"""Sliding-window rate limits per key (a resident, a group), bounded in memory."""

from __future__ import annotations

from collections import OrderedDict, deque
from datetime import datetime, timedelta


class SlidingWindowLimiter:
    """At most `limit` events per `window` for each key; the least recently seen keys are forgotten first."""

    def __init__(self, limit: int, window: timedelta, capacity: int = 50_000) -> None:
        self._limit = limit
        self._window = window
        self._capacity = capacity
        self._events: OrderedDict[str, deque[datetime]] = OrderedDict()

    def allow(self, key: str, now: datetime) -> bool:
        """Record an event for key if it is within the limit; False (and nothing recorded) if not."""
        events = self._events.pop(key, None) or deque()
        while events and now - events[0] >= self._window:
            events.popleft()
        allowed = len(events) < self._limit
        if allowed:
            events.append(now)
        self._events[key] = events
        while len(self._events) > self._capacity:
            self._events.popitem(last=False)
        return allowed
