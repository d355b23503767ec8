"""Fixtures the console tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from tests.support.console import ConsoleWorld, two_communities


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    use_embeddings: UniversalSentenceEncoderEmbeddings,
) -> Iterator[ConsoleWorld]:
    """two_communities on each database, once per test module (a module may define its own world instead)."""
    directory = tmp_path_factory.mktemp(f"console-{request.param}")
    with two_communities(request.param, directory, use_embeddings) as built:
        yield built
