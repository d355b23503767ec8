"""Re-indexing as the console and the FAQ book drive it: a run that takes too long or is cancelled stops and keeps the
previous index, and a FAQ save never hangs behind a running re-index."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from bot.app import Application
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.rag.ingestion import IngestStoppedError
from bot.services.faq_book import STAFF_FAQ_FILE, FaqBook, FaqDraft, FaqEditError
from bot.services.knowledge_admin import KnowledgeMaintenance
from tests.support.clock import FakeClock
from tests.support.knowledge_files import small_knowledge_base, write_faq_csv
from tests.support.services import ready_services

pytestmark = pytest.mark.slow


class HeldEmbeddings(Embeddings):
    """The real model; once armed, a batch stops inside the model until released (a re-index caught mid-run)."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.armed = False
        self.inside = threading.Event()
        self.release = threading.Event()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed, first waiting for release when armed."""
        if self.armed:
            self.inside.set()
            self.release.wait(120)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        return self.inner.embed_query(text)


@dataclass
class Held:
    services: Application
    embeddings: HeldEmbeddings
    clock: FakeClock
    knowledge: KnowledgeMaintenance

    def start_held_reindex(self, pool: ThreadPoolExecutor) -> Future[object]:
        """A re-index with a new file to embed, stopped inside the model until released."""
        kb = self.services.settings.knowledge_dir
        write_faq_csv(
            kb / "faq" / "parking.csv", [["faq-t-parking", "小区能停几辆车？", "", "每户一个车位。", "c", "s", ""]]
        )
        self.embeddings.armed = True
        running = pool.submit(self.knowledge.reindex)
        assert self.embeddings.inside.wait(60), "the re-index never reached the model"
        return running

    def indexed_ids(self) -> set[str]:
        return {chunk.entry_id for chunk in self.services.index.snapshot().chunks}


@pytest.fixture
def held(tmp_path: Path, use_embeddings: UniversalSentenceEncoderEmbeddings) -> Iterator[Held]:
    embeddings, clock = HeldEmbeddings(use_embeddings), FakeClock()
    kb = small_knowledge_base(tmp_path / "kb")
    services = ready_services(tmp_path / "data", embeddings, knowledge_dir=kb, clock=clock)
    maintenance = KnowledgeMaintenance(
        kb, services.ingestor, services.assistant, clock, reindex_timeout_s=60, edit_wait_s=0.5
    )
    yield Held(services, embeddings, clock, maintenance)
    embeddings.release.set()


def test_a_reindex_running_past_its_time_limit_stops_with_a_chinese_error(held: Held) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = held.start_held_reindex(pool)
        assert held.knowledge.status().running
        held.clock.advance(seconds=61)
        held.embeddings.release.set()
        assert isinstance(running.exception(timeout=120), IngestStoppedError)
    status = held.knowledge.status()
    assert not status.running and "超过 60 秒" in status.error and "BOT_REINDEX_TIMEOUT_S" in status.error
    assert "faq-t-parking" not in held.indexed_ids() and "faq-t-fire-01" in held.indexed_ids()


def test_a_running_reindex_can_be_cancelled_and_keeps_the_previous_index(held: Held) -> None:
    assert not held.knowledge.cancel_reindex()  # nothing to cancel
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = held.start_held_reindex(pool)
        assert held.knowledge.cancel_reindex()
        held.embeddings.release.set()
        assert isinstance(running.exception(timeout=120), IngestStoppedError)
    assert "已取消" in held.knowledge.status().error
    assert "faq-t-parking" not in held.indexed_ids()
    held.embeddings.armed = False
    held.knowledge.reindex()  # the next run is not cancelled by the last one's request
    assert "faq-t-parking" in held.indexed_ids()


def test_a_faq_save_waiting_for_a_running_reindex_gives_up_with_a_chinese_message(held: Held) -> None:
    kb = held.services.settings.knowledge_dir
    book = FaqBook(kb, held.clock, held.knowledge.editing)
    draft = FaqDraft("快递柜坏了找谁？", "找物业（示例）。")
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = held.start_held_reindex(pool)
        with pytest.raises(FaqEditError, match="知识库正在重新导入"):
            book.create(draft)
        assert not (kb / STAFF_FAQ_FILE).exists()  # nothing half-saved
        held.embeddings.release.set()
        running.result(timeout=120)
    held.embeddings.armed = False
    entry_id = book.create(draft)
    assert entry_id in held.indexed_ids()
