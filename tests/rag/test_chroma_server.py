"""The Chroma server path: `chroma run` on loopback, the same ingestion and retrieval over HTTP."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import build_application, discard_index
from bot.config import Settings
from tests.conftest import CountingEmbeddings
from tests.support.knowledge_files import small_knowledge_base

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real Chroma server process on a free loopback port."""
    port = _free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
    process = subprocess.Popen(
        [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("chroma server did not start")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_ingest_and_retrieve_through_a_chroma_server(
    tmp_path: Path, chroma_server: int, counting_embeddings: CountingEmbeddings
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        vector_store="server",
        chroma_port=chroma_server,
        _env_file=None,  # type: ignore[call-arg]
    )
    kb = small_knowledge_base(tmp_path / "kb")
    knowledge = build_application(settings, embeddings=counting_embeddings)
    first = knowledge.ingestor.ingest(kb)
    assert first.chunks_total == 22 and not first.failures
    assert not (tmp_path / "data" / "chroma").exists()  # nothing embedded on disk: the server holds the index

    again = build_application(settings, embeddings=counting_embeddings)
    assert again.ingestor.ingest(kb).chunks_embedded == 0
    again.retriever.reload()
    assert again.retriever.retrieve("电瓶车可以推到家里充电不")[0].entry_id == "faq-t-fire-02"


def test_discarding_the_index_on_a_chroma_server_drops_every_generation(
    tmp_path: Path, chroma_server: int, counting_embeddings: CountingEmbeddings
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        vector_store="server",
        chroma_port=chroma_server,
        collection_name="discarded",
        calibrate_at_ingest=False,  # counts the chunks embedded; calibration's questions are embedded too
        _env_file=None,  # type: ignore[call-arg]
    )
    kb = small_knowledge_base(tmp_path / "kb")
    build_application(settings, embeddings=counting_embeddings).ingestor.ingest(kb)
    counting_embeddings.embedded = 0

    discard_index(settings)
    knowledge = build_application(settings, embeddings=counting_embeddings)
    assert knowledge.index.pointer() == {}
    assert knowledge.ingestor.ingest(kb).chunks_embedded == counting_embeddings.embedded == 22
