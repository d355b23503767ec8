"""Measuring petition recognition: labelled messages through the recogniser, precision, recall and categories."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.domain.petitions import Recognition
from bot.services.evaluation import QueryFileError, jsonl_rows
from bot.services.petition_recognition import PetitionRecogniser


@dataclass(frozen=True, slots=True)
class LabelledMessage:
    """One message and whether it is a petition, with its category when it is one (the file's `detail` is unused)."""

    text: str
    petition: bool
    category: str | None


@dataclass(frozen=True, slots=True)
class PetitionFigures:
    """What `python -m bot eval-petitions` prints, and one line per message handled wrongly."""

    figures: dict[str, float | int | None]
    miss_lines: list[str]


def load_labelled_messages(path: Path) -> list[LabelledMessage]:
    """Read a JSONL file of {"text", "petition": bool, "category": str | null} (other keys are ignored)."""
    messages = [_labelled(row, f"{path.name} 第 {number} 行") for number, row in jsonl_rows(path)]
    if not messages:
        raise QueryFileError(f"{path.name} 里没有消息")
    return messages


def _labelled(row: Any, where: str) -> LabelledMessage:
    if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not isinstance(row.get("petition"), bool):
        raise QueryFileError(f"{where}缺少 text 或 petition（应为 true/false）")
    category = row.get("category")
    if category is not None and not isinstance(category, str):
        raise QueryFileError(f"{where}的 category 应为字符串或 null")
    return LabelledMessage(row["text"], row["petition"], category)


def evaluate_petitions(recogniser: PetitionRecogniser, messages: Sequence[LabelledMessage]) -> PetitionFigures:
    """Recognise every message's text and score it.

    precision and recall are of "is a petition" (explicit or implicit) against the label, null when undefined;
    category_accuracy is over every labelled petition with a category, recognised or not: the share whose category
    (the recogniser's, as it would file the message) equals the label. p50_ms/p95_ms time recognise() alone.
    """
    recognitions: list[Recognition] = []
    latencies: list[float] = []
    for message in messages:
        start = time.perf_counter()
        recognitions.append(recogniser.recognise(message.text))
        latencies.append((time.perf_counter() - start) * 1000)
    tp = fp = fn = right = labelled = 0
    lines: list[str] = []
    for message, recognition in zip(messages, recognitions, strict=True):
        found = recognition.is_petition
        tp += found and message.petition
        fp += found and not message.petition
        fn += message.petition and not found
        if found != message.petition:
            lines.append(f"{'误判为诉求' if found else '漏判'} {recognition.score:.3f}  ← {message.text}")
        if message.petition and message.category is not None:
            labelled += 1
            category = recognition.category if found else recogniser.categorise(message.text)
            right += category == message.category
            if category != message.category:
                lines.append(f"分类错误 期望 {message.category} 得到 {category}  ← {message.text}")
    timings = np.array(latencies, dtype=np.float64)
    figures: dict[str, float | int | None] = {
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "category_accuracy": _ratio(right, labelled),
        "n": len(messages),
        "n_petitions": tp + fn,
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "p50_ms": round(float(np.percentile(timings, 50)), 2),
        "p95_ms": round(float(np.percentile(timings, 95)), 2),
    }
    return PetitionFigures(figures, lines)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
