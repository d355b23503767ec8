"""Welcoming new group members (入群欢迎语): when people join a group the assistant serves, one message to the group
@-mentioning them says how to ask the assistant and how to report a problem."""

from __future__ import annotations

import logging

from bot.domain.groups import MemberJoin
from bot.domain.messages import OutboundMessage
from bot.ports import Clock, GroupDirectory, Outbox

log = logging.getLogger(__name__)


class MemberWelcome:
    """Queues the welcome for a join through the outbox: once per join event (a redelivered event is not welcomed
    twice), only in groups where the assistant and its welcome are on, in the group's own words or the default."""

    def __init__(self, groups: GroupDirectory, outbox: Outbox, clock: Clock, *, default_text: str) -> None:
        self._groups = groups
        self._outbox = outbox
        self._clock = clock
        self._default_text = default_text

    def welcome(self, join: MemberJoin) -> bool:
        """Queue the welcome for these new members; False when nothing was queued (no one to welcome, the group
        welcomes nobody, or this join was welcomed already)."""
        if not join.member_ids or not join.group_id:
            return False
        now = self._clock.now()
        config = self._groups.get_or_register(
            group_id=join.group_id, channel=join.channel, name=join.group_name, now=now
        )
        text = config.welcome(self._default_text)
        if not text:
            return False
        message = OutboundMessage(join.channel, text, group_id=join.group_id, mention_ids=join.member_ids)
        queued = self._outbox.enqueue(message, now=now, source=f"welcome:{join.group_id}", dedupe_key=join.dedupe_key)
        if queued:
            log.info("welcome queued for %d new members of %s", len(join.member_ids), join.group_id)
        return queued
