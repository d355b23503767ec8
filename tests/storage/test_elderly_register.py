"""The elderly register's storage on SQLite and PostgreSQL: imports by identity, edits, and reminders stored with
their messages exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.elderly import BirthMonth, RegisterError, RegisterLine, ReminderBatch
from bot.domain.messages import OutboundMessage
from bot.domain.outbox import SendPriority
from bot.storage.elderly import SqlElderlyRegister
from bot.storage.models import OutboxRow

NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
ZHANG = RegisterLine("张三", BirthMonth(1946, 12), "李四", "13812345678")
WANG = RegisterLine("王五", BirthMonth(1947, 3))


def test_a_reimport_updates_contacts_by_identity_per_community(sessions: sessionmaker[Session]) -> None:
    register = SqlElderlyRegister(sessions)
    assert register.import_lines([ZHANG, WANG], community="幸福里", now=NOW) == (2, 0, 0)
    moved = RegisterLine("张三", BirthMonth(1946, 12), "李小四", "13900000000")
    assert register.import_lines([moved, WANG], community="幸福里", now=NOW) == (0, 1, 1)
    assert register.import_lines([ZHANG], community="和平里", now=NOW) == (1, 0, 0)  # another community's 张三
    kept = register.listed(community="幸福里")
    assert [r.line for r in kept] == [moved, WANG]
    assert len(register.listed(community=None)) == 3
    with pytest.raises(RegisterError, match="已经有同名、同出生年月"):
        register.add(WANG, community="幸福里", now=NOW)


def test_an_edit_of_the_birth_month_clears_the_reminder_state(sessions: sessionmaker[Session]) -> None:
    register = SqlElderlyRegister(sessions)
    resident = register.add(ZHANG, community="幸福里", now=NOW)
    batch = ReminderBatch("幸福里", 80, (resident,), (), OutboundMessage("wechat", "提醒", group_id="staff"))
    assert register.remind(batch, now=NOW)
    contact_only = register.edit(resident.id, RegisterLine("张三", ZHANG.born, "李四", ""), now=NOW)
    assert contact_only is not None and contact_only.reminded_for(80)
    corrected = register.edit(resident.id, RegisterLine("张三", BirthMonth(1947, 1)), now=NOW)
    assert corrected is not None and corrected.reminded_at is None and not corrected.reminded_for(80)
    assert register.delete(resident.id) and register.get(resident.id) is None and not register.delete(resident.id)


def test_a_batch_is_reminded_once_with_its_sms_and_summary(sessions: sessionmaker[Session]) -> None:
    register = SqlElderlyRegister(sessions)
    register.import_lines([ZHANG, WANG, RegisterLine("赵六", BirthMonth(1950, 1))], community="幸福里", now=NOW)
    due = register.unreminded(born_by=BirthMonth(1947, 3), age=80)
    assert [r.name for r in due] == ["张三", "王五"]
    zhang = due[0]
    sms = OutboundMessage("sms", "您的家人张三…", user_id="13812345678")
    summary = OutboundMessage("wechat", "【高龄津贴提醒】…", group_id="staff")
    batch = ReminderBatch("幸福里", 80, tuple(due), ((zhang.id, sms),), summary)
    assert register.remind(batch, now=NOW)
    assert not register.remind(batch, now=NOW)  # once
    assert register.unreminded(born_by=BirthMonth(1947, 3), age=80) == []
    assert [r.name for r in register.unreminded(born_by=BirthMonth(1947, 3), age=90)] == ["张三", "王五"]
    stored = register.get(zhang.id)
    assert stored is not None and stored.family_notified_at == NOW and stored.reminded_age == 80
    other = register.get(due[1].id)
    assert other is not None and other.reminded_at == NOW and other.family_notified_at is None
    with sessions() as session:
        queued = session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
    assert [(row.channel, row.user_id, row.group_id, row.priority) for row in queued] == [
        ("sms", "13812345678", "", SendPriority.BULK),  # reminders never hold up an answer
        ("wechat", "", "staff", SendPriority.BULK),
    ]


def test_an_entry_edited_since_it_was_read_is_not_reminded_and_a_corrected_one_is_reminded_again(
    sessions: sessionmaker[Session],
) -> None:
    register = SqlElderlyRegister(sessions)
    read = register.add(ZHANG, community="幸福里", now=NOW)
    later = NOW + timedelta(minutes=5)
    register.edit(read.id, RegisterLine("张三", ZHANG.born, "李四", "13900001111"), now=later)
    sms = OutboundMessage("sms", "您的家人张三…", user_id="13812345678")  # to the number as it was read
    summary = OutboundMessage("wechat", "【高龄津贴提醒】…", group_id="staff")
    assert not register.remind(ReminderBatch("幸福里", 80, (read,), ((read.id, sms),), summary), now=later)
    assert register.unreminded(born_by=ZHANG.born, age=80) != []
    (current,) = register.unreminded(born_by=ZHANG.born, age=80)
    assert register.remind(ReminderBatch("幸福里", 80, (current,), ((current.id, sms),), summary), now=later)
    latest = later + timedelta(days=1)
    corrected = register.edit(current.id, RegisterLine("张三", BirthMonth(1946, 11), "李四", "13900001111"), now=latest)
    assert corrected is not None and not corrected.reminded_for(80)
    assert register.remind(ReminderBatch("幸福里", 80, (corrected,), ((corrected.id, sms),), summary), now=latest)
    with sessions() as session:
        assert len(session.scalars(select(OutboxRow)).all()) == 4  # two SMS and two summaries, none refused as repeats
