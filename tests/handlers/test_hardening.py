"""Faults a reliability and security probe found in the chat path, each pinned by a test named after it (issue 10),
on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import Application
from bot.domain.escalation import QuestionStatus
from bot.handlers.router import RATE_LIMITED_TEXT
from bot.storage.models import GroupConfigRow, OutboxRow, UnansweredAskerRow, UnansweredQuestionRow
from tests.handlers.conftest import resident_message
from tests.support.personal_numbers import revealed


def _outbox_texts(runtime: Application) -> list[str]:
    with runtime.router._outbox._sessions() as session:
        return list(session.scalars(select(OutboxRow.text)))


def _queued_texts(runtime: Application) -> list[str]:
    with runtime.router._outbox._sessions() as session:
        return [
            *session.scalars(select(UnansweredQuestionRow.question)),
            *session.scalars(select(UnansweredAskerRow.text)),
        ]


def test_fault_1_a_long_request_for_a_person_is_stored_bounded(chat_runtime: Application) -> None:
    story = "转人工，" + "我家楼上天天半夜剁肉，" * 5000  # 55,000 characters
    handling = chat_runtime.router.handle(
        resident_message(chat_runtime, story, sender="wxid_long", group="r1@chatroom")
    )
    assert handling.outcome == "handed_off"
    assert max(len(text) for text in _queued_texts(chat_runtime)) <= 500


def test_fault_2_a_reply_never_repeats_a_residents_number_to_the_group(chat_runtime: Application) -> None:
    text = "高龄津贴怎么申请？另外我电话139.1234.5678灭火器过期了找谁换？"
    handling = chat_runtime.router.handle(
        resident_message(chat_runtime, text, sender="wxid_phone", group="r2@chatroom")
    )
    assert handling.outcome == "answered" and handling.replies[0].text.startswith("1. 关于")
    leaked = [stored for stored in _outbox_texts(chat_runtime) if revealed("13912345678", stored)]
    assert not leaked


def test_fault_5_near_duplicates_join_only_within_a_community(chat_runtime: Application) -> None:
    groups = chat_runtime.groups
    for group, community in (("heping@chatroom", "和平里"), ("xingfu@chatroom", "幸福里")):
        chat_runtime.router.handle(resident_message(chat_runtime, "你好", sender="wxid_any", group=group))
        groups.update(group, now=chat_runtime.router._clock.now(), community=community)
    for sender, group in (("wxid_a", "xingfu@chatroom"), ("wxid_b", "heping@chatroom"), ("wxid_c", "heping@chatroom")):
        chat_runtime.router.handle(resident_message(chat_runtime, "小区里能不能养鸽子", sender=sender, group=group))
    xingfu = chat_runtime.escalation.queue(community="幸福里", status=QuestionStatus.OPEN)
    heping = chat_runtime.escalation.queue(community="和平里", status=QuestionStatus.OPEN)
    assert [[a.user_id for a in q.askers] for q in xingfu if "鸽子" in q.question] == [["wxid_a"]]
    assert [[a.user_id for a in q.askers] for q in heping if "鸽子" in q.question] == [["wxid_b", "wxid_c"]]


def test_fault_6_private_chats_are_limited_per_resident_not_all_together(chat_runtime: Application) -> None:
    clock = chat_runtime.router._clock
    outcomes = []
    for number in range(40):  # forty residents, one private message each, within 20 seconds
        message = resident_message(chat_runtime, "社区食堂几点开饭", sender=f"wxid_private_{number}")
        outcomes.append(chat_runtime.router.handle(message).outcome)
        clock.advance(seconds=0.5)  # type: ignore[attr-defined]
    assert outcomes == ["answered"] * 40
    one = [
        chat_runtime.router.handle(resident_message(chat_runtime, "社区食堂几点开饭", sender="wxid_fast"))
        for _ in range(8)
    ]
    assert [h.outcome for h in one] == ["answered"] * 6 + ["rate_limited", "rate_limited_silent"]
    notice = one[6].replies[0].text
    assert notice == RATE_LIMITED_TEXT and "不回复" in notice and "一条条回复" not in notice


def test_fault_7_nul_and_control_characters_in_any_field_are_stored_cleanly(chat_runtime: Application) -> None:
    group = "nul\x00room@chatroom"
    message = resident_message(
        chat_runtime, "转人工，楼道\x00灯坏了\x07", sender="wxid\x00nul", group=group, group_name="幸福\x00里\x1b3号楼"
    )
    assert chat_runtime.router.handle(message).outcome == "handed_off"
    with chat_runtime.router._outbox._sessions() as session:
        (name,) = session.scalars(select(GroupConfigRow.name).where(GroupConfigRow.group_id == "nulroom@chatroom"))
    assert name == "幸福里3号楼"
    assert "转人工，楼道灯坏了" in _queued_texts(chat_runtime)


class _KilledBeforeCompleting(BaseException):
    """Stands in for SIGKILL between the hand-off to staff and the reply's transaction (no handler catches it)."""


def test_a_handler_retried_after_a_crash_hands_the_question_to_staff_once(
    chat_runtime: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = resident_message(chat_runtime, "小区里能不能养一只孔雀当宠物", sender="wxid_retry", group="r9@chatroom")
    outbox = chat_runtime.outbox

    def killed(*args: object, **kwargs: object) -> bool:
        raise _KilledBeforeCompleting

    with monkeypatch.context() as patch:
        patch.setattr(outbox, "complete", killed)
        with pytest.raises(_KilledBeforeCompleting):
            chat_runtime.router.handle(message)
    queued_before = [q for q in _queued_texts(chat_runtime) if "孔雀" in q]
    notices_before = [t for t in _outbox_texts(chat_runtime) if "孔雀" in t]
    assert len(queued_before) == 2 and len(notices_before) == 1  # question + asker; one notice to staff

    assert chat_runtime.router.handle(message).outcome == "replied:low_confidence"  # the restart handles it again
    assert [q for q in _queued_texts(chat_runtime) if "孔雀" in q] == queued_before
    assert [t for t in _outbox_texts(chat_runtime) if "孔雀" in t] == notices_before  # staff told once
    assert len(chat_runtime.outbox.deliveries(f"reply:{message.message_id}")) == 1  # and the resident's reply queued
