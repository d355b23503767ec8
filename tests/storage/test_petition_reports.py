"""Petitions read in bulk on SQLite and PostgreSQL: batches by id within a board filter's scope, and the scope of a
community through its groups (the default community also holding private chats and groups never registered)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.petitions import BoardFilter, PetitionStatus
from bot.storage.channel import SqlGroupConfigs
from bot.storage.petition_reports import SqlPetitionReports
from tests.support.petition_rows import insert_petitions, petition_values

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def reports(sessions: sessionmaker[Session]) -> SqlPetitionReports:
    groups = SqlGroupConfigs(sessions, enabled_by_default=True, keywords=(), default_community="幸福里")
    for room, community in (("room-a", "幸福里"), ("room-b", "和平里"), ("room-none", "")):
        groups.get_or_register(group_id=room, channel="wechat", name=room, now=NOW)
        groups.update(room, community=community, now=NOW)
    places = ["room-a", "room-b", "room-a", "", "room-unknown", "room-none", "room-a"]
    insert_petitions(
        sessions,
        [
            petition_values(
                f"2026-{n:04d}",
                created_at=NOW - timedelta(hours=10 - n),
                group_id=room,
                status="closed" if n % 2 else "submitted",
            )
            for n, room in enumerate(places, start=1)
        ],
    )
    return SqlPetitionReports(sessions, default_community="幸福里")


def _numbers(reports: SqlPetitionReports, shown: BoardFilter, size: int = 2) -> list[list[str]]:
    return [[p.number for p in batch] for batch in reports.in_batches(shown, size=size)]


def test_batches_follow_filing_order_within_the_filter(reports: SqlPetitionReports) -> None:
    assert _numbers(reports, BoardFilter(), size=3) == [
        ["2026-0001", "2026-0002", "2026-0003"],
        ["2026-0004", "2026-0005", "2026-0006"],
        ["2026-0007"],
    ]
    assert _numbers(reports, BoardFilter(community="和平里")) == [["2026-0002"]]
    closed = BoardFilter(status=PetitionStatus.CLOSED, community="幸福里")
    assert _numbers(reports, closed) == [["2026-0001", "2026-0003"], ["2026-0005", "2026-0007"]]
    assert _numbers(reports, BoardFilter(community="无此社区")) == []


def test_the_default_community_holds_private_chats_and_unregistered_groups(reports: SqlPetitionReports) -> None:
    home = [n for batch in _numbers(reports, BoardFilter(community="幸福里"), size=10) for n in batch]
    assert home == ["2026-0001", "2026-0003", "2026-0004", "2026-0005", "2026-0007"]  # not room-none's (no community)
    counts = reports.counts(BoardFilter(community="幸福里"))
    assert counts == {PetitionStatus.CLOSED: 4, PetitionStatus.SUBMITTED: 1}
    assert [p.number for p in reports.board(BoardFilter(community="幸福里"), offset=0, limit=2)] == [
        "2026-0007",
        "2026-0005",
    ]
