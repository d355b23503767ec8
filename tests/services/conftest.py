"""Shared fixtures of the service tests: the starter knowledge base behind the reply path, on a clock tests move."""

from __future__ import annotations

import pytest

from bot.app import Application
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from tests.support.clock import FakeClock
from tests.support.services import ready_services


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def knowledge(
    tmp_path_factory: pytest.TempPathFactory, use_embeddings: UniversalSentenceEncoderEmbeddings, clock: FakeClock
) -> Application:
    """The starter knowledge base, once per module (the reply path only reads it)."""
    return ready_services(tmp_path_factory.mktemp("data"), use_embeddings, clock=clock)
