"""The handler tables: rows run by priority (in registration order when equal), a blocking match ends the walk, the
application's tables list their rows in the documented order, and a new row slots in at its priority."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import cast

import pytest

from bot.app import build_application
from bot.config import Settings
from bot.domain.conversation import Question, Reply
from bot.domain.messages import InboundMessage, MessageKind
from bot.handlers.context import Handling, MessageContext
from bot.handlers.gates import StaffGroup
from bot.handlers.router import MessageRouter, RateLimits
from bot.handlers.table import HandlerTable
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.services.assistant import ResidentAssistant
from bot.services.safety import SmallTalk
from bot.storage.channel import SqlGroupConfigs, SqlOutbox
from bot.storage.engine import make_engine, session_factory, upgrade
from tests.support.clock import FakeClock

_ids = itertools.count()


class ScriptedAssistant:
    """Stands in for the assistant: every question gets one answer, and what reached it is remembered."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def awaits_choice(self, group_id: str, user_id: str, text: str) -> bool:
        return False

    def chit_chat(self, text: str) -> SmallTalk | None:
        return SmallTalk("thanks", "不客气。") if text == "谢谢" else None

    def reply(self, question: Question) -> Reply:
        self.asked.append(question.text)
        return Reply("这是小助手的答复。", True, "matched")


class Row:
    """A fake row: matches the texts it is given, notes that it ran, and names its outcome after itself."""

    def __init__(self, name: str, priority: int, *, block: bool = True, matches: str = "", ran: list[str]) -> None:
        self.name = name
        self.priority = priority
        self.block = block
        self._matches = matches
        self._ran = ran

    def check(self, message: InboundMessage, context: MessageContext) -> bool:
        return message.text.startswith(self._matches)

    def handle(self, message: InboundMessage, context: MessageContext, match: bool) -> Handling:
        self._ran.append(self.name)
        return Handling(self.name)


class PetitionRow:
    """What the petition issue adds: "报事 …" is taken down as a petition instead of being answered."""

    name = "petition"
    priority = 80
    block = True

    def check(self, message: InboundMessage, context: MessageContext) -> str | None:
        text = context.addressed.text
        return text.removeprefix("报事").strip() if text.startswith("报事") else None

    def handle(self, message: InboundMessage, context: MessageContext, match: str) -> Handling:
        return context.queue(f"已记下您反映的：{match}。", "petition_received")


@pytest.fixture
def groups_and_outbox(tmp_path: Path) -> tuple[SqlGroupConfigs, SqlOutbox]:
    engine = make_engine(f"sqlite:///{tmp_path / 'table.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    return SqlGroupConfigs(sessions, enabled_by_default=True, keywords=("小助手",)), SqlOutbox(sessions)


def message(text: str, *, group: str = "room-3", mentions_self: bool = True) -> InboundMessage:
    return InboundMessage(
        message_id=f"t{next(_ids)}",
        channel="wechat",
        sender_id="wxid_li",
        sender_name="李阿姨",
        text=text,
        kind=MessageKind.TEXT,
        at=FakeClock().now(),
        group_id=group,
        group_name="3号楼群",
        mentions_self=mentions_self,
    )


def walk(table: HandlerTable, text: str, groups_and_outbox: tuple[SqlGroupConfigs, SqlOutbox]) -> Handling:
    groups, outbox = groups_and_outbox
    inbound = message(text)
    context = MessageContext(
        inbound, clock=FakeClock(), groups=groups, outbox=outbox, bot_names=(), awaits_choice=lambda *_: False
    )
    return table.dispatch(inbound, context)


def test_rows_run_by_priority_and_in_registration_order_when_equal(
    groups_and_outbox: tuple[SqlGroupConfigs, SqlOutbox],
) -> None:
    ran: list[str] = []
    table = HandlerTable(
        [
            Row("late", 30, block=False, ran=ran),
            Row("first_of_two", 20, block=False, ran=ran),
            Row("early", 10, block=False, ran=ran),
            Row("second_of_two", 20, block=False, ran=ran),
        ]
    )
    table.add(Row("third_of_two", 20, block=False, ran=ran))

    assert [row.name for row in table] == ["early", "first_of_two", "second_of_two", "third_of_two", "late"]
    walk(table, "你好", groups_and_outbox)
    assert ran == ["early", "first_of_two", "second_of_two", "third_of_two", "late"]


def test_a_blocking_match_ends_the_walk_and_a_non_blocking_one_lets_later_rows_run(
    groups_and_outbox: tuple[SqlGroupConfigs, SqlOutbox],
) -> None:
    ran: list[str] = []
    table = HandlerTable(
        [
            Row("observer", 10, block=False, ran=ran),
            Row("only_questions", 20, matches="问", ran=ran),
            Row("catch_all", 30, ran=ran),
            Row("never", 40, ran=ran),
        ]
    )

    assert walk(table, "问：灭火器找谁换", groups_and_outbox).outcome == "only_questions"
    assert ran == ["observer", "only_questions"]
    ran.clear()
    assert walk(table, "大家好", groups_and_outbox).outcome == "catch_all"  # a row that does not match is skipped
    assert ran == ["observer", "catch_all"]


def test_without_a_blocking_match_the_last_handling_stands(
    groups_and_outbox: tuple[SqlGroupConfigs, SqlOutbox],
) -> None:
    ran: list[str] = []
    assert walk(HandlerTable(), "你好", groups_and_outbox).outcome == "unhandled"
    table = HandlerTable([Row("observer", 10, block=False, ran=ran), Row("picky", 20, matches="问", ran=ran)])
    assert walk(table, "你好", groups_and_outbox).outcome == "observer"


def test_the_application_registers_these_rows_in_this_order(
    tmp_path: Path, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data", knowledge_dir=tmp_path / "kb", staff_group_id="staff@chatroom", _env_file=None
    )
    router = build_application(settings, embeddings=use_embeddings).router

    assert [(row.priority, row.name) for row in router.table] == [
        (10, "ignore_bots"),  # our own messages and other bots': "ignored_bot"
        (20, "drop_duplicates"),  # delivered again: "duplicate"
        (30, "staff_group"),  # the staff group: its own table, below
        (35, "department_group"),  # a department's group: "2026-0012 处理中", "… 办结：…"; the rest left alone
        (40, "disabled_group"),  # registers a group on first sight; switched off: "group_disabled"
        (45, "notice_refused"),  # "#通知 …" from anyone but staff: refused and recorded
        (45, "petition_photo"),  # a picture for the case its sender just reported: attached (before not_addressed)
        (50, "not_addressed"),  # no @, keyword or pick among choices: "not_addressed"
        (60, "non_text_hint"),  # a picture meant for us: "please write"
        (70, "rate_limit"),  # too fast: one notice a minute, then silence
        (75, "chit_chat"),  # "谢谢啊 小助手你真好", "在吗 有个事想问问", a stray "1": a short reply, never staff
        (80, "petition_confirm"),  # "1" to a complaint held for confirmation: filed
        (80, "petition_unconfirmed"),  # anything else drops that complaint (does not block)
        (80, "petition_location"),  # the place asked for after filing
        (80, "petition_status"),  # "查询 2026-0012", "我的诉求"
        (80, "petition_verdict"),  # "满意" … closes the reporter's resolved case, "没解决" reopens it
        (80, "petition"),  # "报事 …" filed at once; a complaint asked to confirm
        (90, "handoff"),  # "转人工": to staff at once
        (100, "assistant_reply"),  # everything else: the assistant's reply
    ]
    (staff_group,) = (row for row in router.table if isinstance(row, StaffGroup))
    assert [(row.priority, row.name) for row in staff_group.staff] == [
        (10, "staff_non_text"),  # pictures and voice are chatter
        (15, "staff_notice"),  # "#通知 全部 …": echoed, waiting for "确认发送"
        (16, "staff_notice_confirm"),  # "确认发送"
        (20, "staff_to_knowledge"),  # "#12 入库"
        (30, "staff_close"),  # "#12 关闭"
        (40, "staff_answer"),  # "#12 答：…"
        (50, "staff_petition_move"),  # "2026-0012 受理", "… 派单 物业", "… 办结：…"
        (100, "staff_chatter"),  # anything else
    ]


def test_without_an_unanswered_queue_there_is_no_staff_group_and_no_handoff(
    groups_and_outbox: tuple[SqlGroupConfigs, SqlOutbox],
) -> None:
    groups, outbox = groups_and_outbox
    assistant = cast(ResidentAssistant, ScriptedAssistant())
    router = MessageRouter(assistant, groups, outbox, FakeClock(), bot_names=("社区小助手",))
    assert [row.name for row in router.table] == [
        "ignore_bots",
        "drop_duplicates",
        "disabled_group",
        "not_addressed",
        "non_text_hint",
        "rate_limit",
        "chit_chat",
        "assistant_reply",
    ]


def test_a_petition_row_between_the_rate_limit_and_answering_takes_its_messages(
    groups_and_outbox: tuple[SqlGroupConfigs, SqlOutbox],
) -> None:
    groups, outbox = groups_and_outbox
    assistant = ScriptedAssistant()
    router = MessageRouter(
        cast(ResidentAssistant, assistant),
        groups,
        outbox,
        FakeClock(),
        bot_names=("社区小助手",),
        limits=RateLimits(per_resident=2),
    )
    router.table.add(PetitionRow())

    assert [row.name for row in router.table][-4:] == ["rate_limit", "chit_chat", "petition", "assistant_reply"]
    petition = router.handle(message("报事 3号楼电梯坏了"))
    assert petition.outcome == "petition_received"
    assert [reply.text for reply in petition.replies] == ["已记下您反映的：3号楼电梯坏了。"]
    assert assistant.asked == []  # the answering row was not reached
    assert router.handle(message("灭火器过期了找谁换")).outcome == "answered"
    assert assistant.asked == ["灭火器过期了找谁换"]
    # The rows in front still come first: talk not meant for us, and the third message within the minute.
    assert router.handle(message("报事 楼道灯不亮", mentions_self=False)).outcome == "not_addressed"
    assert router.handle(message("报事 楼道灯不亮")).outcome == "rate_limited"
