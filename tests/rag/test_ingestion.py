"""Incremental ingestion into the real embedded Chroma index, with the real default embedding model."""

from __future__ import annotations

import pytest

from bot.app import build_application
from bot.config import Settings
from bot.rag.lexical import Lexicon
from tests.conftest import CountingEmbeddings
from tests.support.knowledge_files import FIRE_ROWS, small_knowledge_base, write_faq_csv


def _knowledge(settings: Settings, embeddings: CountingEmbeddings):  # type: ignore[no-untyped-def]
    return build_application(settings, embeddings=embeddings)


def test_first_run_indexes_everything_second_run_embeds_nothing(
    settings: Settings, counting_embeddings: CountingEmbeddings
) -> None:
    kb = small_knowledge_base(settings.knowledge_dir)
    knowledge = _knowledge(settings, counting_embeddings)
    first = knowledge.ingestor.ingest(kb)
    assert first.files_total == 4 and len(first.files_added) == 4 and not first.failures
    # 2 FAQ x (3 phrasings + answer) in csv and in xlsx; guide and txt: an overview + 2 sections each
    assert first.chunks_total == first.chunks_embedded == counting_embeddings.embedded == 22

    second = _knowledge(settings, counting_embeddings).ingestor.ingest(kb)
    assert second.chunks_embedded == 0 and counting_embeddings.embedded == 22
    assert len(second.files_unchanged) == 4 and not second.changed and second.chunks_total == 22


def test_changed_file_is_reembedded_alone_and_deleted_file_leaves_the_index(
    settings: Settings, counting_embeddings: CountingEmbeddings
) -> None:
    kb = small_knowledge_base(settings.knowledge_dir)
    knowledge = _knowledge(settings, counting_embeddings)
    knowledge.ingestor.ingest(kb)
    counting_embeddings.embedded = 0

    rows = [
        *FIRE_ROWS,
        ["faq-t-fire-03", "家里着火怎么办？", "着火了咋整|起火了怎么办", "立即拨打119。", "消防", "测试", ""],
    ]
    write_faq_csv(kb / "faq" / "fire.csv", rows)
    (kb / "docs" / "library.txt").unlink()
    report = knowledge.ingestor.ingest(kb)
    assert report.files_updated == ["faq/fire.csv"] and report.files_removed == ["docs/library.txt"]
    assert counting_embeddings.embedded == report.chunks_embedded == 12
    assert report.chunks_total == 22 - 8 + 12 - 3

    snapshot = knowledge.index.snapshot()
    ids = {c.entry_id for c in snapshot.chunks}
    assert "faq-t-fire-03" in ids and "docs/library.txt" not in ids
    knowledge.retriever.reload()
    assert knowledge.retriever.retrieve("起火了怎么办")[0].entry_id == "faq-t-fire-03"


def test_broken_files_are_reported_and_the_rest_completes(
    settings: Settings, counting_embeddings: CountingEmbeddings
) -> None:
    kb = small_knowledge_base(settings.knowledge_dir)
    (kb / "faq" / "empty.csv").write_bytes(b"")
    (kb / "docs" / "corrupt.pdf").write_bytes(b"%PDF-1.7 broken")
    (kb / "faq" / "gbk.csv").write_bytes(
        "id,question,similar_questions,answer,category,source\nx,问,,答,c,s\n".encode("gbk")
    )
    write_faq_csv(kb / "faq" / "zz_dup.csv", [["faq-t-fire-01", "重复编号的问题", "", "答", "c", "s", ""]])
    report = _knowledge(settings, counting_embeddings).ingestor.ingest(kb)
    reasons = {f.file: f.reason for f in report.failures}
    assert set(reasons) == {"faq/empty.csv", "docs/corrupt.pdf", "faq/gbk.csv", "faq/zz_dup.csv"}
    assert reasons["faq/empty.csv"] == "文件是空的"
    assert "GBK" in reasons["faq/gbk.csv"]
    assert "faq-t-fire-01" in reasons["faq/zz_dup.csv"] and "faq/fire.csv" in reasons["faq/zz_dup.csv"]
    assert len(report.files_added) == 4 and report.chunks_total == 22


def test_a_broken_edit_keeps_the_last_good_version(settings: Settings, counting_embeddings: CountingEmbeddings) -> None:
    kb = small_knowledge_base(settings.knowledge_dir)
    knowledge = _knowledge(settings, counting_embeddings)
    knowledge.ingestor.ingest(kb)
    (kb / "faq" / "fire.csv").write_text("id,question\nbroken,row\n", encoding="utf-8")
    report = knowledge.ingestor.ingest(kb)
    assert [f.file for f in report.failures] == ["faq/fire.csv"]
    assert "faq-t-fire-01" in {c.entry_id for c in knowledge.index.snapshot().chunks}
    # the failure is reported again until the file is fixed
    assert [f.file for f in knowledge.ingestor.ingest(kb).failures] == ["faq/fire.csv"]


def test_a_crash_mid_ingest_leaves_the_previous_index_whole(
    settings: Settings, counting_embeddings: CountingEmbeddings
) -> None:
    kb = small_knowledge_base(settings.knowledge_dir)
    knowledge = _knowledge(settings, counting_embeddings)
    knowledge.ingestor.ingest(kb)
    before = knowledge.index.snapshot()

    extra = [
        [f"faq-t-many-{i:03d}", f"第{i}个问题是什么？", f"问法{i}|说法{i}", f"答案{i}。", "c", "s", ""]
        for i in range(200)
    ]
    write_faq_csv(kb / "faq" / "many.csv", extra)
    counting_embeddings.fail_after = counting_embeddings.embedded + 100
    with pytest.raises(RuntimeError, match="simulated failure"):
        knowledge.ingestor.ingest(kb)
    after = knowledge.index.snapshot()
    assert after.generation == before.generation
    assert sorted(c.chunk_id for c in after.chunks) == sorted(c.chunk_id for c in before.chunks)

    counting_embeddings.fail_after = None
    report = knowledge.ingestor.ingest(kb)
    assert report.files_added == ["faq/many.csv"] and report.chunks_total == 22 + 800


def test_changing_the_embedding_model_rebuilds_everything(
    settings: Settings, counting_embeddings: CountingEmbeddings
) -> None:
    kb = small_knowledge_base(settings.knowledge_dir)
    build_application(settings, embeddings=counting_embeddings).ingestor.ingest(kb)
    index = build_application(settings, embeddings=counting_embeddings).index
    index.set_pointer(
        generation=index.pointer()["generation"], number=1, embedding_id="some-older-model", lexicon=Lexicon()
    )
    report = build_application(settings, embeddings=counting_embeddings).ingestor.ingest(kb)
    assert report.rebuilt and report.chunks_embedded == 22


def test_lexicon_edit_is_picked_up_without_reembedding(
    settings: Settings, counting_embeddings: CountingEmbeddings
) -> None:
    kb = small_knowledge_base(settings.knowledge_dir)
    knowledge = _knowledge(settings, counting_embeddings)
    knowledge.ingestor.ingest(kb)
    (kb / "_synonyms.txt").write_text("送餐上门 送饭\n", encoding="utf-8")
    report = knowledge.ingestor.ingest(kb)
    assert report.chunks_embedded == 0
    assert knowledge.index.snapshot().lexicon.synonyms == {"送饭": "送餐上门"}


def test_a_discarded_index_has_no_generation_left_and_is_rebuilt_whole(
    settings: Settings, counting_embeddings: CountingEmbeddings
) -> None:
    kb = small_knowledge_base(settings.knowledge_dir)
    knowledge = _knowledge(settings, counting_embeddings)
    knowledge.ingestor.ingest(kb)
    write_faq_csv(kb / "faq" / "fire.csv", FIRE_ROWS[:1])
    knowledge.ingestor.ingest(kb)  # a second generation beside the first
    counting_embeddings.embedded = 0

    knowledge.index.discard()
    assert knowledge.index.pointer() == {} and knowledge.index.snapshot().chunks == ()
    client = knowledge.index._client
    assert [c for c in client.list_collections() if c.name.startswith(settings.collection_name)] == []
    report = knowledge.ingestor.ingest(kb)
    assert len(report.files_added) == 4 and report.chunks_embedded == counting_embeddings.embedded == 18
