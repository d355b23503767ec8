"""The answer decision calibrated at ingest on the knowledge base in front of it, from a background that ships."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.app import build_application
from bot.config import Settings
from bot.services.calibration import BACKGROUND_FILE, DecisionCalibrator, background_questions
from tests.conftest import CountingEmbeddings
from tests.support.knowledge_files import write_faq_csv

RESEARCH_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

# Entries asked twice in other words: leaving one out, its twin answers its question with a clear lead.
CLOSE = [
    "高龄津贴每月发多少钱？",
    "高龄津贴一个月给多少钱？",
    "社区食堂几点开饭？",
    "社区食堂什么时候开饭？",
    "电动车在哪里充电？",
    "电瓶车去哪儿充电？",
    "居住证要带什么材料办理？",
    "办居住证需要准备哪些材料？",
]
# Entries on unrelated matters: a question left out finds nothing like it.
APART = [
    "高龄津贴每月发多少钱？",
    "社区食堂几点开饭？",
    "电动车在哪里充电？",
    "垃圾分类厨余垃圾怎么投放？",
    "居住证要带什么材料办理？",
    "图书室周末开门吗？",
    "楼道里能堆放杂物吗？",
    "党员组织关系怎么转入？",
]


def _kb(root: Path, questions: list[str]) -> Path:
    rows = [[f"faq-c-{n:02d}", q, "", f"答复{n}。", "测试", "测试", ""] for n, q in enumerate(questions)]
    write_faq_csv(root / "faq" / "table.csv", rows)
    return root


def _threshold(settings: Settings, embeddings: CountingEmbeddings, root: Path, background: tuple[str, ...]) -> float:
    application = build_application(settings, embeddings=embeddings)
    application.ingestor.ingest(root)
    return DecisionCalibrator(application.retriever, background).calibrate().threshold


def test_a_knowledge_base_of_near_duplicates_gets_a_higher_threshold_than_one_of_distinct_entries(
    settings: Settings, counting_embeddings: CountingEmbeddings, tmp_path: Path
) -> None:
    background = background_questions()
    close = _threshold(settings, counting_embeddings, _kb(tmp_path / "close", CLOSE), background)
    apart = _threshold(
        settings.model_copy(update={"collection_name": "apart"}),
        counting_embeddings,
        _kb(tmp_path / "apart", APART),
        background,
    )
    assert close > apart + 0.5


def test_ingest_stores_the_calibration_the_answers_use_and_a_set_threshold_overrides_it(
    settings: Settings, counting_embeddings: CountingEmbeddings
) -> None:
    _kb(settings.knowledge_dir, CLOSE)
    calibrated = settings.model_copy(update={"calibrate_at_ingest": True})
    application = build_application(calibrated, embeddings=counting_embeddings)
    report = application.ingestor.ingest(settings.knowledge_dir)
    assert report.calibration is not None
    assert report.calibration.background_questions == len(background_questions())
    application.prepare()
    decision = application.answering.decision()
    assert decision.calibrated and decision.threshold == report.calibration.threshold
    assert decision.followup_threshold < decision.threshold
    assert f"{decision.threshold:.2f}" in decision.describe()

    # Kept with the index: an unchanged knowledge base is not calibrated again, and a new process reads it.
    again = build_application(calibrated, embeddings=counting_embeddings)
    embedded = counting_embeddings.embedded
    assert again.ingestor.ingest(settings.knowledge_dir).calibration == report.calibration
    assert counting_embeddings.embedded == embedded
    again.prepare()
    assert again.answering.decision() == decision

    overridden = build_application(
        calibrated.model_copy(update={"answer_threshold": 0.9}), embeddings=counting_embeddings
    )
    overridden.prepare()
    assert overridden.answering.threshold == 0.9
    assert not overridden.answering.decision().calibrated
    assert "按设置" in overridden.answering.decision().describe()


def test_an_index_without_calibration_answers_with_the_development_sets_constants(
    settings: Settings, counting_embeddings: CountingEmbeddings
) -> None:
    _kb(settings.knowledge_dir, APART)
    application = build_application(settings, embeddings=counting_embeddings)  # calibrate_at_ingest off
    assert application.ingestor.ingest(settings.knowledge_dir).calibration is None
    application.prepare()
    decision = application.answering.decision()
    assert (decision.threshold, decision.followup_threshold, decision.calibrated) == (1.35, 1.0, False)


def test_the_background_ships_and_shares_no_line_with_the_research_sets() -> None:
    background = background_questions()
    assert len(background) >= 300
    assert len(set(background)) == len(background)
    assert BACKGROUND_FILE.is_file()
    if not RESEARCH_DATA.is_dir():
        pytest.skip("no research data beside the repository")
    research: set[str] = set()
    for path in RESEARCH_DATA.rglob("*"):
        if path.suffix not in {".txt", ".jsonl", ".csv"}:
            continue
        for line in path.read_text(encoding="utf-8", errors="ignore").splitlines():
            research.add(line.strip())
            research.update(cell.strip() for cell in line.split(","))
            if line.startswith("{"):
                research.add(str(json.loads(line).get("query", "")).strip())
    assert not set(background) & research


def test_eval_external_skips_cleanly_without_the_research_folder(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from argparse import Namespace

    from bot.cli.knowledge import evaluate_sets

    assert evaluate_sets(settings, Namespace(sets=tmp_path / "absent")) == 0
    assert "跳过" in capsys.readouterr().out
    (tmp_path / "lonely_kb").mkdir()  # a knowledge base without its queries is not a set
    assert evaluate_sets(settings, Namespace(sets=tmp_path)) == 0
    assert "没有成对的" in capsys.readouterr().out
