"""Short conversational memory per (group, resident): what the last question was about, for follow-ups."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.knowledge import RetrievalHit
from bot.ports import Clock


@dataclass(frozen=True, slots=True)
class Topic:
    """What a resident was last asking about."""

    entry_id: str
    family: frozenset[str]
    terms: str
    at: datetime


class ConversationMemory:
    """Remembers each resident's last topic for a few minutes; bounded, least recently used first out."""

    def __init__(self, clock: Clock, *, ttl: timedelta, capacity: int = 10_000) -> None:
        self._clock = clock
        self._ttl = ttl
        self._capacity = capacity
        self._topics: OrderedDict[tuple[str, str], Topic] = OrderedDict()
        self._choices: OrderedDict[tuple[str, str], tuple[tuple[RetrievalHit, ...], datetime]] = OrderedDict()

    def recall(self, group_id: str, user_id: str) -> Topic | None:
        """The resident's topic if it is still fresh."""
        key = (group_id, user_id)
        topic = self._topics.get(key)
        if topic is None:
            return None
        if self._clock.now() - topic.at > self._ttl:
            del self._topics[key]
            return None
        return topic

    def remember(self, group_id: str, user_id: str, *, entry_id: str, family: frozenset[str], terms: str) -> None:
        """Store (or refresh) the resident's topic."""
        key = (group_id, user_id)
        self._topics.pop(key, None)
        self._topics[key] = Topic(entry_id, family, terms, self._clock.now())
        while len(self._topics) > self._capacity:
            self._topics.popitem(last=False)

    def restore(self, group_id: str, user_id: str, topic: Topic | None) -> None:
        """Put back a topic read earlier with recall (None forgets the resident's topic)."""
        key = (group_id, user_id)
        self._topics.pop(key, None)
        if topic is not None:
            self._topics[key] = topic

    def offer(self, group_id: str, user_id: str, choices: tuple[RetrievalHit, ...]) -> None:
        """Keep the choices just offered to the resident (none forgets earlier ones)."""
        key = (group_id, user_id)
        self._choices.pop(key, None)
        if choices:
            self._choices[key] = (choices, self._clock.now())
            while len(self._choices) > self._capacity:
                self._choices.popitem(last=False)

    def offered(self, group_id: str, user_id: str) -> tuple[RetrievalHit, ...]:
        """The choices offered to the resident, while still fresh."""
        key = (group_id, user_id)
        kept = self._choices.get(key)
        if kept is None:
            return ()
        if self._clock.now() - kept[1] > self._ttl:
            del self._choices[key]
            return ()
        return kept[0]

    def __len__(self) -> int:
        return len(self._topics)
