"""Shared fixtures: the real default embedding model (loaded once) and settings pointing at a private data dir."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from langchain_core.embeddings import Embeddings
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.storage.engine import make_engine, session_factory, upgrade

REPO = Path(__file__).resolve().parent.parent


class CountingEmbeddings(Embeddings):
    """Wraps real embeddings and counts the texts embedded (to prove skipped work is really skipped)."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.embedded = 0
        self.fail_after: int | None = None

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed, counting; raise once fail_after texts have been embedded (simulates a crash mid-ingest)."""
        if self.fail_after is not None and self.embedded + len(texts) > self.fail_after:
            raise RuntimeError("simulated failure while embedding")
        self.embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed one query (not counted)."""
        return self.inner.embed_query(text)


@pytest.fixture(scope="session")
def use_embeddings() -> UniversalSentenceEncoderEmbeddings:
    """The bundled default model, loaded once per test session."""
    return UniversalSentenceEncoderEmbeddings()


@pytest.fixture
def counting_embeddings(use_embeddings: UniversalSentenceEncoderEmbeddings) -> CountingEmbeddings:
    """The default model behind a counter."""
    return CountingEmbeddings(use_embeddings)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings with a private data dir and no .env influence; the answer decision is the development set's fixed
    one (tests of calibration itself turn `calibrate_at_ingest` on)."""
    monkeypatch.chdir(tmp_path)
    yield Settings(
        data_dir=tmp_path / "data",
        knowledge_dir=tmp_path / "kb",
        calibrate_at_ingest=False,
        _env_file=None,  # type: ignore[call-arg]
    )


POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def fresh_database(kind: str, directory: Path) -> Iterator[str]:
    """The URL of a fresh empty database: a SQLite file in directory, or a private schema in the local PostgreSQL.

    PostgreSQL runs on this machine and in CI; in CI (CI=1) an unreachable server fails the test instead of
    skipping it.
    """
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'test.db'}"
        return
    url = os.environ.get("BOT_TEST_POSTGRES_URL", POSTGRES_URL)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is unreachable at {url}: {exc}")
        pytest.skip(f"PostgreSQL is unreachable at {url}")
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database of each kind (see fresh_database)."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on a freshly migrated SQLite file or PostgreSQL schema."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()
