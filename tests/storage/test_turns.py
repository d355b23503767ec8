"""Conversation turns survive in both databases; migrations are idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bot.domain.conversation import ConversationTurn
from bot.storage.engine import head_revision, make_engine, session_factory, upgrade
from bot.storage.turns import SqlTurnLog


def _turn(n: int, at: datetime) -> ConversationTurn:
    return ConversationTurn(
        at=at,
        channel="wechat",
        group_id="幸福里3号楼群",
        user_id=f"wxid_{n}",
        question=f"高龄津贴多少钱？电话138****5678（{n}）",
        reply="80至89岁每月100元。\n（来源：测试）",
        answered=True,
        reason="matched",
        score=1.35,
        sources=("faq-elderly-02",),
        mode="extractive",
        latency_ms=6.5,
    )


def test_turns_round_trip_newest_first(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)  # a second start changes nothing
    log = SqlTurnLog(session_factory(engine))
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    for n in range(3):
        log.record(_turn(n, start + timedelta(minutes=n)))
    turns = log.recent(2)
    assert [t.user_id for t in turns] == ["wxid_2", "wxid_1"]
    assert turns[0] == _turn(2, start + timedelta(minutes=2))
    assert turns[0].at.tzinfo is not None
    with engine.connect() as connection:
        assert connection.execute(sa.text("select count(*) from conversation_turns")).scalar() == 3
        assert connection.execute(sa.text("select version_num from alembic_version")).scalar() == head_revision()
    engine.dispose()
