"""Commands on petitions (诉求): measuring how well they are recognised."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.cli.command import Command
from bot.config import Settings
from bot.domain.errors import AssistantError


def eval_petitions(settings: Settings, args: argparse.Namespace) -> int:
    """Recognise every labelled message's text; print misses (with --show-misses) and a JSON line of figures."""
    from bot.app import petition_recogniser
    from bot.rag.embeddings import make_embeddings
    from bot.services.petition_evaluation import evaluate_petitions, load_labelled_messages

    try:
        messages = load_labelled_messages(args.queries)
    except FileNotFoundError:
        raise AssistantError(f"文件不存在：{args.queries}") from None
    except (OSError, UnicodeDecodeError):
        raise AssistantError(f"无法读取（应为 UTF-8 编码的 JSONL）：{args.queries}") from None
    # The recogniser as the assistant runs it: a message's vector as retrieval embeds it.
    recogniser = petition_recogniser(settings, make_embeddings(settings), args.categories)
    result = evaluate_petitions(recogniser, messages)
    if args.show_misses:
        for line in result.miss_lines:
            print(line, file=sys.stderr)
    print(json.dumps(result.figures, ensure_ascii=False))
    return 0


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--queries", type=Path, required=True, help='JSONL，每行 {"text", "petition": true/false, "category"}'
    )
    parser.add_argument(
        "--categories", type=Path, default=None, help="诉求分类文件（默认 BOT_PETITION_CATEGORIES_FILE）"
    )
    parser.add_argument("--show-misses", action="store_true", help="在标准错误输出里列出判错和分错类的消息")


COMMANDS = (
    Command(
        "eval-petitions",
        "评测诉求识别，最后一行输出 JSON：precision、recall（明确和疑似诉求都算诉求），"
        "category_accuracy（所有标注为诉求且有分类的消息中，分类与标注一致的比例，不论是否识别出），n",
        eval_petitions,
        _arguments,
    ),
)
