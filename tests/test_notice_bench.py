"""The notice fan-out benchmark's smoke run: a notice to 30 mock groups through the Wechaty gateway at interval zero
and paced, every group reached once, the figures printed complete."""

from __future__ import annotations

import pytest

from benchmarks.notice_bench import run
from bot.rag.embeddings import UniversalSentenceEncoderEmbeddings

pytestmark = pytest.mark.slow


def test_a_small_notice_bench_run_reaches_every_group_once(use_embeddings: UniversalSentenceEncoderEmbeddings) -> None:
    overhead, paced, jittered = run(30, 4, 0.1, 0.1, embeddings=use_embeddings)
    assert [figures["groups"] for figures in (overhead, paced, jittered)] == [30, 4, 4]
    assert all(figures["every_group_once"] for figures in (overhead, paced, jittered))
    assert "deviation_pct" not in overhead and {"achieved_per_min", "mean_gap_s"} <= paced.keys() & jittered.keys()
