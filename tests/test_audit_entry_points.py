"""An answer is audited once, by the service, wherever it was given: the console, the staff WeChat group, the
command line (a real process on the same database)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.domain.conversation import Question
from bot.domain.messages import InboundMessage, MessageKind
from bot.domain.staff import AuditEntry, Role
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.storage.workflow import SqlTransitions
from tests.support.clock import FakeClock
from tests.support.console import ConsoleWorld, console_world, csrf_of, sign_in

pytestmark = pytest.mark.slow
STAFF = "staff@chatroom"


def _ask(world: ConsoleWorld, text: str) -> int:
    question = Question(text, "room-3@chatroom", "wxid_li", world.application.clock.now(), "wechat")
    return world.application.escalation.escalate(question, reason="low_confidence", join_similar=False).id


def _answered(world: ConsoleWorld) -> list[AuditEntry]:
    return world.application.audit.entries(limit=50, action="question_answered")


def test_answering_through_each_entry_point_writes_exactly_one_audit_entry(
    tmp_path: Path, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    world = console_world(tmp_path, use_embeddings, clock=FakeClock(), staff_group_id=STAFF)
    world.user("chief", Role.ADMIN)
    in_console, in_group, on_command_line = (_ask(world, t) for t in ("小区能养鸽子吗", "泳池几点开", "快递柜坏了"))

    client = world.client()
    sign_in(client, "chief")
    response = client.post(
        f"/questions/{in_console}/answer", data={"csrf_token": csrf_of(client), "answer": "小区不允许养鸽子。"}
    )
    assert response.status_code == 303
    (entry,) = _answered(world)
    assert (entry.actor, entry.role, entry.target, entry.detail) == (
        "chief",
        "admin",
        f"#{in_console}",
        "小区不允许养鸽子。",
    )

    staff_command = InboundMessage(
        message_id="audit-1",
        channel="wechat",
        sender_id="wxid_staff",
        sender_name="张主任",
        text=f"#{in_group} 答：泳池早上8点开。",
        kind=MessageKind.TEXT,
        at=world.application.clock.now(),
        group_id=STAFF,
        group_name="工作群",
    )
    assert world.application.router.handle(staff_command).outcome == "staff_answered"
    entry, _ = _answered(world)
    assert (entry.actor, entry.target, entry.detail) == ("微信:张主任", f"#{in_group}", "泳池早上8点开。")

    environment = {**os.environ, "BOT_DATA_DIR": str(tmp_path / "data"), "BOT_KNOWLEDGE_DIR": str(tmp_path / "kb")}
    cli = subprocess.run(
        [sys.executable, "-m", "bot", "answer", str(on_command_line), "请联系物业。", "--by", "王干部"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr
    entry, _, _ = _answered(world)
    assert (entry.actor, entry.target, entry.detail) == ("命令行", f"#{on_command_line}", "王干部：请联系物业。")

    history = SqlTransitions(world.application.sessions)
    movers = [[t.actor for t in history.transitions("question", n)] for n in (in_console, in_group, on_command_line)]
    assert movers == [["chief"], ["张主任"], ["王干部"]]
