"""The petition benchmark's smoke run: 200 cases seeded on SQLite, consistent with their recorded moves, and every
page it times answered once (through the console app, without a server or a knowledge base)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from benchmarks.console_bench import timed
from benchmarks.petition_bench import pages, seed, table
from bot.app import build_application
from bot.config import Settings
from bot.console.app import create_console
from bot.domain.petitions import BoardFilter
from bot.domain.staff import Role
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.storage.models import PetitionRow, WorkflowTransitionRow
from tests.support.console import ConsoleWorld, sign_in

pytestmark = pytest.mark.slow


def test_a_small_petition_bench_run_times_every_page(
    tmp_path: Path, use_embeddings: UniversalSentenceEncoderEmbeddings
) -> None:
    settings = Settings(data_dir=tmp_path / "data", knowledge_dir=tmp_path / "kb", _env_file=None)  # type: ignore[call-arg]
    application = build_application(settings, embeddings=use_embeddings)
    world = ConsoleWorld(application, create_console(application))
    made = seed(world, cases=200, groups=20)
    assert made["cases"] == 200 and made["moves"] > 200
    statuses, last_moves = _consistency(world)
    # every case stands where its last recorded move took it (a case never moved is still 已登记)
    assert statuses - Counter(submitted=statuses["submitted"]) == last_moves
    assert sum(statuses.values()) == 200 and len(statuses) >= 5  # a spread of statuses, not one

    world.user("chief", Role.ADMIN)
    world.user("cadre", Role.CADRE, community="社区0")
    admin, cadre = world.client(), world.client()
    assert sign_in(admin, "chief").status_code == sign_in(cadre, "cadre").status_code == 303
    numbers = [p.number for p in world.application.petitions.board(BoardFilter(), offset=0, limit=5)]
    timings = {name: timed(call, 1) for name, (call, _) in pages(world, admin, cadre, numbers, 1, 1).items()}
    assert all(t["p50_ms"] > 0 for t in timings.values())
    assert "| export, all (admin) |" in table([{"database": "sqlite", "pages": timings}])


def _consistency(world: ConsoleWorld) -> tuple[Counter[str], Counter[str]]:
    """(cases per status, cases per status their last recorded move took them to)."""
    with world.application.sessions() as session:
        statuses = Counter(session.scalars(select(PetitionRow.status)))
        moves = select(WorkflowTransitionRow.entity_id, WorkflowTransitionRow.to_status)
        last = {entity: to for entity, to in session.execute(moves.order_by(WorkflowTransitionRow.id))}
    return statuses, Counter(last.values())
