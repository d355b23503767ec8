"""Wired, ingested and warmed-up services for tests that exercise the reply path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from bot.app import Application, build_application
from bot.config import Settings
from bot.ports import Clock, PetitionClassifier

STARTER_KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"


def ready_services(
    data_dir: Path,
    embeddings: Embeddings,
    *,
    knowledge_dir: Path = STARTER_KNOWLEDGE,
    clock: Clock | None = None,
    classifier: PetitionClassifier | None = None,
    **settings: Any,
) -> Application:
    """Settings (no .env) with data in data_dir, the knowledge base ingested and the models loaded (petitions told
    apart by classifier when given). The answer decision is the development set's fixed one unless a test asks for
    calibration (`calibrate_at_ingest=True`)."""
    settings.setdefault("calibrate_at_ingest", False)
    built = build_application(
        Settings(data_dir=data_dir, knowledge_dir=knowledge_dir, _env_file=None, **settings),  # type: ignore[call-arg]
        embeddings=embeddings,
        clock=clock,
        classifier=classifier,
    )
    built.ingestor.ingest(knowledge_dir)
    built.assistant.prepare()
    return built
