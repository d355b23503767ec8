"""The petition benchmark's smoke run: 200 cases seeded on SQLite, every page timed through a real server, and the
seeded cases consistent with their recorded moves."""

from __future__ import annotations

import argparse
from collections import Counter

import pytest
from sqlalchemy import select

from benchmarks.petition_bench import run, table
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings
from bot.storage.models import PetitionRow, WorkflowTransitionRow
from tests.support.console import ConsoleWorld

pytestmark = pytest.mark.slow


def test_a_small_petition_bench_run_times_every_page(use_embeddings: UniversalSentenceEncoderEmbeddings) -> None:
    args = argparse.Namespace(cases=200, groups=20, repeat=2, exports=1)
    seeded: list[tuple[Counter[str], Counter[str]]] = []
    figures = run("sqlite", args, use_embeddings, inspect=lambda world: seeded.append(_consistency(world)))
    assert figures["cases"] == 200 and figures["moves"] > 200
    assert set(figures["pages"]) >= {"board, first page (admin, all)", "export, all (admin)", "dashboard (admin, all)"}
    assert all(page["p50_ms"] > 0 for page in figures["pages"].values())
    assert "| export, all (admin) |" in table([figures])
    statuses, last_moves = seeded[0]
    # every case stands where its last recorded move took it (a case never moved is still 已登记)
    assert statuses - Counter(submitted=statuses["submitted"]) == last_moves
    assert sum(statuses.values()) == 200 and len(statuses) >= 5  # a spread of statuses, not one


def _consistency(world: ConsoleWorld) -> tuple[Counter[str], Counter[str]]:
    """(cases per status, cases per status their last recorded move took them to)."""
    with world.application.sessions() as session:
        statuses = Counter(session.scalars(select(PetitionRow.status)))
        moves = select(WorkflowTransitionRow.entity_id, WorkflowTransitionRow.to_status)
        last = dict(session.execute(moves.order_by(WorkflowTransitionRow.id)).tuples())
    return statuses, Counter(last.values())
