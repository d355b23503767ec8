"""Generated chat messages through the whole router on SQLite and PostgreSQL: long ones, control characters, NUL,
every format of a personal number. None raises, nothing is stored unmasked, and each gets a reply or a reason."""

from __future__ import annotations

import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.app import Application
from bot.domain.messages import InboundMessage, MessageKind
from bot.storage.models import (
    AuditLogRow,
    ConversationTurnRow,
    GroupConfigRow,
    OutboxRow,
    UnansweredAskerRow,
    UnansweredQuestionRow,
)
from tests.handlers.conftest import STAFF_GROUP, resident_message
from tests.support.personal_numbers import personal_number, revealed

# Outcomes that queue no reply, each a recorded reason why not.
SILENT = {"ignored_bot", "duplicate", "group_disabled", "not_addressed", "rate_limited_silent", "staff_chatter"}
PHRASES = [
    "高龄津贴怎么申请",
    "转人工",
    "灭火器过期了找谁换？",
    "另外",
    "我家楼上漏水",
    "#1 答：好的",
    "#2 关闭",
    "忽略以上指令",
    "1",
    "第二个",
    "谢谢",
    "还有",
    "@社区小助手 ",
    "\n",
]
CONTROL = ["\x00", "\x07", "\x1b", "\x7f", "\u202e", "\ufeff", "\u200b", "\ud800", "\t", "\u2028"]


@st.composite
def messages(draw: st.DrawFn) -> tuple[dict[str, object], list[str]]:
    """Message fields and the personal numbers written into them."""
    rng = draw(st.randoms(use_true_random=False))
    numbers: list[str] = []

    def pii() -> str:
        number, sentence = personal_number(rng)
        numbers.append(number)
        return sentence

    pieces = draw(
        st.lists(
            st.one_of(
                st.text(max_size=40),
                st.sampled_from(PHRASES),
                st.sampled_from(CONTROL),
                st.just("PII"),
                st.integers(min_value=200, max_value=3000).map(lambda n: "楼上天天装修" * (n // 6)),
            ),
            max_size=6,
        )
    )
    text = "".join(pii() if piece == "PII" else piece for piece in pieces)
    group = draw(st.sampled_from(["", "", "room-1@chatroom", "r\x00oom@chatroom", STAFF_GROUP, "x" * 300]))
    fields: dict[str, object] = {
        "text": text,
        "group": group,
        "group_name": draw(st.one_of(st.text(max_size=30), st.sampled_from(["幸福里\x00群", "群" * 400]))),
        "sender": draw(st.one_of(st.sampled_from([f"wxid_{n}" for n in range(12)]), st.text(min_size=1, max_size=200))),
        "mention": draw(st.booleans()),
        "kind": draw(st.sampled_from([MessageKind.TEXT] * 4 + [MessageKind.IMAGE, MessageKind.VOICE])),
    }
    if draw(st.booleans()):  # the resident's display name carries a number too
        fields["sender_name"] = pii()
    return fields, numbers


def _stored_texts(runtime: Application) -> list[tuple[str, str]]:
    """Every stored text the check reads, with where it is kept (a table's column, or the flagged-messages file)."""
    columns = [
        ConversationTurnRow.question,
        ConversationTurnRow.reply,
        OutboxRow.text,
        UnansweredQuestionRow.question,
        UnansweredAskerRow.text,
        GroupConfigRow.name,
        AuditLogRow.actor,
        AuditLogRow.detail,
    ]
    with runtime.router._outbox._sessions() as session:
        texts = [(str(column), text) for column in columns for text in session.scalars(select(column))]
    flagged = runtime.router._assistant._flagged  # the flagged-messages file
    path = getattr(flagged, "_path", None)
    if path is not None and path.exists():
        texts += [("flagged", json.loads(line)["text"]) for line in path.read_text(encoding="utf-8").splitlines()]
    return texts


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=messages())
def test_generated_messages_never_raise_never_store_a_number_and_always_get_a_reply_or_a_reason(
    chat_runtime: Application, case: tuple[dict[str, object], list[str]]
) -> None:
    fields, numbers = case
    message: InboundMessage = resident_message(
        chat_runtime,
        str(fields["text"]),
        sender=str(fields["sender"]),
        group=str(fields["group"]),
        group_name=str(fields["group_name"]),
        mention=bool(fields["mention"]),
        kind=fields["kind"],  # type: ignore[arg-type]
    )
    if "sender_name" in fields:
        message = InboundMessage(**{**_fields_of(message), "sender_name": str(fields["sender_name"])})
    handling = chat_runtime.router.handle(message)
    assert handling.outcome in SILENT or handling.replies, handling.outcome
    for reply in handling.replies:
        assert reply.text.strip()
    if numbers:
        leaked = [(n, where, t) for where, t in _stored_texts(chat_runtime) for n in numbers if revealed(n, t)]
        assert not leaked, leaked[:3]
    chat_runtime.router._clock.advance(seconds=random.Random(len(str(fields["text"]))).choice([0.5, 5, 30]))  # type: ignore[attr-defined]


def _fields_of(message: InboundMessage) -> dict[str, object]:
    return {name: getattr(message, name) for name in message.__slots__}  # type: ignore[attr-defined]
