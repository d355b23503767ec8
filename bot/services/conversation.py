"""Short conversational memory per (group, resident): the last topic, for follow-ups, and the choices just offered."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from bot.domain.knowledge import RetrievalHit
from bot.ports import Clock


@dataclass(frozen=True, slots=True)
class Topic:
    """What a resident was last asking about."""

    entry_id: str
    family: frozenset[str]
    terms: str
    at: datetime


@dataclass(frozen=True, slots=True)
class _Offer:
    """The numbered choices a refusal offered a resident."""

    choices: tuple[RetrievalHit, ...]
    at: datetime


class _Stamped(Protocol):
    @property
    def at(self) -> datetime: ...


_V = TypeVar("_V", bound=_Stamped)


class _PerResident(Generic[_V]):
    """One value per (group, resident), forgotten once older than ttl; bounded, least recently used first out."""

    def __init__(self, clock: Clock, ttl: timedelta, capacity: int) -> None:
        self._clock = clock
        self._ttl = ttl
        self._capacity = capacity
        self._values: OrderedDict[tuple[str, str], _V] = OrderedDict()

    def get(self, key: tuple[str, str]) -> _V | None:
        value = self._values.get(key)
        if value is not None and self._clock.now() - value.at > self._ttl:
            del self._values[key]
            return None
        return value

    def put(self, key: tuple[str, str], value: _V | None) -> None:
        """Store value as the newest (None forgets the key)."""
        self._values.pop(key, None)
        if value is None:
            return
        self._values[key] = value
        while len(self._values) > self._capacity:
            self._values.popitem(last=False)

    def __len__(self) -> int:
        return len(self._values)


class ConversationMemory:
    """Remembers each resident's last topic and last offered choices for a few minutes; bounded."""

    def __init__(self, clock: Clock, *, ttl: timedelta, capacity: int = 10_000) -> None:
        self._clock = clock
        self._topics: _PerResident[Topic] = _PerResident(clock, ttl, capacity)
        self._offers: _PerResident[_Offer] = _PerResident(clock, ttl, capacity)

    def recall(self, group_id: str, user_id: str) -> Topic | None:
        """The resident's topic if it is still fresh."""
        return self._topics.get((group_id, user_id))

    def remember(self, group_id: str, user_id: str, *, entry_id: str, family: frozenset[str], terms: str) -> None:
        """Store (or refresh) the resident's topic."""
        self._topics.put((group_id, user_id), Topic(entry_id, family, terms, self._clock.now()))

    def restore(self, group_id: str, user_id: str, topic: Topic | None) -> None:
        """Put back a topic read earlier with recall (None forgets the resident's topic)."""
        self._topics.put((group_id, user_id), topic)

    def offer(self, group_id: str, user_id: str, choices: tuple[RetrievalHit, ...]) -> None:
        """Keep the choices just offered to the resident (none forgets earlier ones)."""
        self._offers.put((group_id, user_id), _Offer(choices, self._clock.now()) if choices else None)

    def offered(self, group_id: str, user_id: str) -> tuple[RetrievalHit, ...]:
        """The choices offered to the resident, while still fresh."""
        offer = self._offers.get((group_id, user_id))
        return offer.choices if offer is not None else ()

    def __len__(self) -> int:
        return len(self._topics)
