"""The console tests' shared world: two communities on each database, module by module (a module that needs more
accounts or groups defines its own `world`)."""

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
    """The console over two communities (see two_communities) on a fresh SQLite file, then a PostgreSQL schema."""
    directory = tmp_path_factory.mktemp(f"{request.module.__name__.rsplit('.', 1)[-1]}-{request.param}")
    with two_communities(request.param, directory, use_embeddings) as built:
        yield built
