"""Petition storage on both databases: case numbers unique per year under concurrent filers, one case per inbound
message, filing and the reply in one transaction with the message marked handled, complaints held for confirmation,
and workflow moves whose notices are queued once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.messages import InboundMessage, MessageKind, OutboundMessage
from bot.domain.petitions import (
    Petition,
    PetitionDraft,
    PetitionEvent,
    PetitionMoveRefused,
    PetitionStatus,
    Receipt,
    Reporter,
    Urgency,
)
from bot.storage.channel import SqlInbox, SqlOutbox
from bot.storage.models import OutboxRow
from bot.storage.petitions import SqlPetitions
from bot.storage.workflow import SqlTransitions

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LI = Reporter("wechat", "room-3", "3号楼群", "wxid_li", "李阿姨")


def _draft(
    origin: str, text: str = "3号楼电梯坏了", *, reporter: Reporter = LI, location: str = "3号楼"
) -> PetitionDraft:
    return PetitionDraft("设施维修", text, location, reporter, Urgency.NORMAL, origin)


def _told(petition: Petition) -> list[OutboundMessage]:
    return [petition.reporter.told(f"已登记您的诉求，编号 {petition.number}。")]


def _inbound(message_id: str) -> InboundMessage:
    return InboundMessage(
        message_id, "wechat", "wxid_li", "李阿姨", "报事 3号楼电梯坏了", MessageKind.TEXT, NOW, "room-3"
    )


@pytest.fixture
def petitions(sessions: sessionmaker[Session]) -> SqlPetitions:
    return SqlPetitions(sessions)


@pytest.fixture
def first_filings_meet(sessions: sessionmaker[Session]) -> Iterator[None]:
    """Holds the first counter UPDATE of the first two filers until both reach it, so both find the year without a
    counter."""
    barrier = threading.Barrier(2, timeout=30)
    waited: set[int] = set()
    engine: Engine = sessions.kw["bind"]

    def hold(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        thread = threading.get_ident()
        if (
            statement.lstrip().upper().startswith("UPDATE PETITION_COUNTERS")
            and thread not in waited
            and len(waited) < 2
        ):
            waited.add(thread)
            barrier.wait()

    event.listen(engine, "before_cursor_execute", hold)
    yield
    event.remove(engine, "before_cursor_execute", hold)


def test_two_concurrent_filers_never_share_a_case_number(petitions: SqlPetitions, first_filings_meet: None) -> None:
    def file_many(filer: str) -> list[str]:
        numbers = []
        for n in range(15):
            filing = petitions.file(_draft(f"{filer}-{n}"), year=2026, now=NOW)
            assert filing.petition is not None and filing.created
            numbers.append(filing.petition.number)
        return numbers

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(file_many, ["a", "b"])
    assert sorted(first + second) == [f"2026-{n:04d}" for n in range(1, 31)]
    assert first == sorted(first) and second == sorted(second)  # each filer's numbers rise
    # Another year starts its own sequence.
    next_year = petitions.file(_draft("c-0"), year=2027, now=NOW).petition
    assert next_year is not None and next_year.number == "2027-0001"


def test_one_inbound_message_makes_one_case(petitions: SqlPetitions) -> None:
    first = petitions.file(_draft("m1"), year=2026, now=NOW)
    again = petitions.file(_draft("m1", "改过的描述"), year=2026, now=NOW + timedelta(minutes=1))
    assert first.created and not again.created
    assert again.petition == first.petition and again.petition is not None
    assert again.petition.description == "3号楼电梯坏了"
    other = petitions.file(_draft("m2"), year=2026, now=NOW).petition
    assert other is not None and other.number == "2026-0002"
    assert petitions.by_origin("m1") == first.petition and petitions.get("2026-0001") == first.petition


def test_filing_marks_the_message_handled_and_queues_the_reply_in_one_transaction(
    sessions: sessionmaker[Session], petitions: SqlPetitions
) -> None:
    inbox, outbox = SqlInbox(sessions), SqlOutbox(sessions)
    assert inbox.receive(_inbound("m1"), now=NOW)
    filing = petitions.file(_draft("m1"), year=2026, now=NOW, receipt=Receipt("m1", "petition_filed"), replies=_told)
    assert filing.recorded and filing.created and filing.petition is not None
    assert [m.text for m in filing.replies] == ["已登记您的诉求，编号 2026-0001。"]
    assert outbox.seen("m1") and inbox.waiting() == [] and inbox.counts() == {"handled": 1}
    (reply,) = outbox.due(now=NOW, limit=10)
    assert (reply.source, reply.message.text, reply.message.mention_ids) == (
        "reply:m1",
        "已登记您的诉求，编号 2026-0001。",
        ("wxid_li",),
    )
    # A second delivery of the same message: nothing new is filed or queued.
    again = petitions.file(_draft("m1"), year=2026, now=NOW, receipt=Receipt("m1", "petition_filed"), replies=_told)
    assert not again.recorded and again.replies == () and again.petition == filing.petition
    assert len(outbox.due(now=NOW, limit=10)) == 1


def test_a_failing_reply_rolls_the_case_back(petitions: SqlPetitions, sessions: sessionmaker[Session]) -> None:
    def broken(petition: Petition) -> list[OutboundMessage]:
        raise RuntimeError("the process died while writing the reply")

    with pytest.raises(RuntimeError):
        petitions.file(_draft("m1"), year=2026, now=NOW, receipt=Receipt("m1", "petition_filed"), replies=broken)
    assert petitions.by_origin("m1") is None and not SqlOutbox(sessions).seen("m1")
    filed = petitions.file(_draft("m1"), year=2026, now=NOW, receipt=Receipt("m1", "petition_filed"), replies=_told)
    assert filed.petition is not None and filed.petition.number == "2026-0001"  # the rolled-back number is reused


def test_a_complaint_held_for_confirmation_is_filed_once_and_dropped_otherwise(
    sessions: sessionmaker[Session], petitions: SqlPetitions
) -> None:
    outbox = SqlOutbox(sessions)
    ask = [LI.told("这像是要反映问题，需要登记为诉求吗？回复 1 确认")]
    expires = NOW + timedelta(minutes=10)
    assert petitions.hold(_draft("m1"), now=NOW, expires_at=expires, receipt=Receipt("m1", "to_confirm"), replies=ask)
    assert not petitions.hold(  # the same message delivered again
        _draft("m1"), now=NOW, expires_at=expires, receipt=Receipt("m1", "to_confirm"), replies=ask
    )
    held = petitions.pending("wechat", "room-3", "wxid_li", now=NOW + timedelta(minutes=9))
    assert held == _draft("m1")
    assert petitions.pending("wechat", "room-5", "wxid_li", now=NOW) is None  # another group
    assert petitions.pending("wechat", "room-3", "wxid_li", now=expires) is None  # expired

    filing = petitions.file(held, year=2026, now=NOW, receipt=Receipt("m2", "petition_filed"), replies=_told)
    assert filing.petition is not None and filing.petition.origin == "m1"
    assert petitions.pending("wechat", "room-3", "wxid_li", now=NOW) is None  # filed: no longer waiting
    assert outbox.seen("m1") and outbox.seen("m2")

    # A new complaint replaces an unanswered one; saying something else drops it.
    petitions.hold(_draft("m3"), now=NOW, expires_at=expires, receipt=Receipt("m3", "to_confirm"), replies=ask)
    petitions.hold(_draft("m4", "楼道灯不亮"), now=NOW, expires_at=expires, receipt=Receipt("m4", "c"), replies=ask)
    waiting = petitions.pending("wechat", "room-3", "wxid_li", now=NOW)
    assert waiting is not None and waiting.origin == "m4"
    assert petitions.drop_pending("wechat", "room-3", "wxid_li")
    assert not petitions.drop_pending("wechat", "room-3", "wxid_li")
    assert petitions.pending("wechat", "room-3", "wxid_li", now=NOW) is None


def test_the_location_is_asked_once_and_kept(sessions: sessionmaker[Session], petitions: SqlPetitions) -> None:
    filed = petitions.file(_draft("m1", "电梯坏了", location=""), year=2026, now=NOW).petition
    assert filed is not None and filed.location == ""
    since = NOW - timedelta(minutes=10)
    assert petitions.awaiting_location("wechat", "room-3", "wxid_li", since=since) == filed
    assert petitions.awaiting_location("wechat", "room-3", "wxid_li", since=NOW + timedelta(seconds=1)) is None
    located = petitions.file(_draft("m2"), year=2026, now=NOW).petition  # said where: not asked
    assert located is not None and petitions.awaiting_location("wechat", "room-3", "wxid_li", since=since) == filed

    thanks = [LI.told("好的，已记下位置。")]
    assert petitions.locate(filed.id, "5栋2单元", now=NOW, receipt=Receipt("m3", "located"), replies=thanks)
    assert not petitions.locate(filed.id, "6栋", now=NOW, receipt=Receipt("m3", "located"), replies=thanks)
    kept = petitions.get(filed.number)
    assert kept is not None and kept.location == "5栋2单元"
    assert petitions.awaiting_location("wechat", "room-3", "wxid_li", since=since) is None


def test_moves_queue_the_notice_once_even_when_a_status_is_reached_again(
    sessions: sessionmaker[Session], petitions: SqlPetitions
) -> None:
    filed = petitions.file(_draft("m1"), year=2026, now=NOW).petition
    assert filed is not None
    route = [
        PetitionEvent.ACCEPT,
        PetitionEvent.DISPATCH,
        PetitionEvent.START,
        PetitionEvent.RESOLVE,
        PetitionEvent.REOPEN,
        PetitionEvent.START,
        PetitionEvent.RESOLVE,
        PetitionEvent.EXPIRE,
    ]
    for n, step in enumerate(route):
        at = NOW + timedelta(hours=n)
        notice = LI.told(f"第{n}步：{step.label}")
        values = {"updated_at": at, "note": f"备注{n}"}
        moved = petitions.move(filed.id, step, actor="张主任", at=at, note=f"备注{n}", values=values, messages=[notice])
        assert moved.updated_at == at and moved.note == f"备注{n}"
    assert moved.status is PetitionStatus.CLOSED
    with pytest.raises(PetitionMoveRefused):
        petitions.move(filed.id, PetitionEvent.REOPEN, actor="张主任", at=NOW, messages=[LI.told("不会发出")])

    history = SqlTransitions(sessions).transitions("petition", filed.id)
    assert [(t.event, t.to_status) for t in history][-2:] == [("resolve", "resolved"), ("expire", "closed")]
    assert len(history) == len(route) and {t.actor for t in history} == {"张主任"}
    with sessions() as session:
        texts = list(session.scalars(select(OutboxRow.text).where(OutboxRow.source == f"petition:{filed.id}")))
    assert texts == [f"第{n}步：{step.label}" for n, step in enumerate(route)]  # each once, in order


def test_a_residents_cases_and_the_resolved_ones_waiting_for_them(petitions: SqlPetitions) -> None:
    wang = Reporter("wechat", "room-5", "5号楼群", "wxid_wang", "王师傅")
    for n in range(3):
        petitions.file(_draft(f"li-{n}"), year=2026, now=NOW + timedelta(minutes=n))
    petitions.file(_draft("li-private", reporter=Reporter("wechat", "", "", "wxid_li", "李阿姨")), year=2026, now=NOW)
    petitions.file(_draft("wang-0", reporter=wang), year=2026, now=NOW)
    first = petitions.by_origin("li-0")
    assert first is not None
    petitions.move(first.id, PetitionEvent.REJECT, actor="张主任", at=NOW, note="不属于社区管理")

    mine = petitions.of_reporter("wechat", "wxid_li", group_id="room-3", open_only=True, limit=10)
    assert [p.origin for p in mine] == ["li-2", "li-1"]  # newest first, the rejected one left out
    everywhere = petitions.of_reporter("wechat", "wxid_li", group_id=None, open_only=False, limit=10)
    assert {p.origin for p in everywhere} == {"li-0", "li-1", "li-2", "li-private"}

    second = petitions.by_origin("li-1")
    assert second is not None
    for step in (PetitionEvent.ACCEPT, PetitionEvent.DISPATCH, PetitionEvent.START):
        petitions.move(second.id, step, actor="张主任", at=NOW)
    petitions.move(second.id, PetitionEvent.RESOLVE, actor="张主任", at=NOW, values={"resolved_at": NOW})
    assert [p.origin for p in petitions.resolved_before(NOW + timedelta(days=7), limit=10)] == ["li-1"]
    assert petitions.resolved_before(NOW, limit=10) == []
