"""Fixtures of the handler tests: the whole chat path (router, assistant, queue, outbox) on each database."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings

from bot.app import Application
from bot.domain.messages import InboundMessage, MessageKind, OutboundMessage
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from tests.conftest import REPO, fresh_database
from tests.support.clock import FakeClock
from tests.support.services import ready_services

STAFF_GROUP = "staff@chatroom"
_message_ids = itertools.count()


class NoGateway:
    """Nothing leaves in these tests: replies stay in the outbox, where they are checked."""

    async def send(self, message: OutboundMessage) -> None:
        raise AssertionError("nothing is sent in these tests")


@contextmanager
def chat_application(kind: str, root: Path, embeddings: Embeddings, **settings: Any) -> Iterator[Application]:
    """A copy of the starter knowledge base behind the router, a staff group, on a fresh database of kind."""
    kb = root / "kb"
    shutil.copytree(REPO / "knowledge", kb)
    with fresh_database(kind, root) as url:
        application = ready_services(
            root / "data",
            embeddings,
            knowledge_dir=kb,
            clock=FakeClock(),
            staff_group_id=STAFF_GROUP,
            database_url=url,
            **settings,
        )
        yield application
        application.sessions.kw["bind"].dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def chat_runtime(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    use_embeddings: UniversalSentenceEncoderEmbeddings,
) -> Iterator[Application]:
    """The starter knowledge base behind the router, on a fresh SQLite file or PostgreSQL schema, once per module."""
    with chat_application(request.param, tmp_path_factory.mktemp("chat"), use_embeddings) as application:
        yield application


def resident_message(
    runtime: Application,
    text: str,
    *,
    sender: str,
    group: str = "",
    group_name: str = "",
    mention: bool = True,
    kind: MessageKind = MessageKind.TEXT,
) -> InboundMessage:
    """A message as a channel delivers it (a private chat when group is empty)."""
    return InboundMessage(
        message_id=f"h{next(_message_ids)}",
        channel="wechat",
        sender_id=sender,
        sender_name="居民",
        text=text,
        kind=kind,
        at=runtime.router._clock.now(),
        group_id=group,
        group_name=group_name or group,
        mentions_self=mention and bool(group),
    )
