"""Commands on the knowledge base and answering: ingest, ask, eval, bench."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bot.cli.command import Command
from bot.cli.output import format_report, ingest_with_progress, reply_json
from bot.config import Settings
from bot.domain.errors import AssistantError

if TYPE_CHECKING:
    from bot.services.answering import AnswerDecision
    from bot.services.evaluation import Conversation, Evaluation, LabelledQuery

T = TypeVar("T")


def ingest(settings: Settings, args: argparse.Namespace) -> int:
    """Incrementally ingest the knowledge directory (with --rebuild: the index thrown away first); print a summary."""
    from bot.app import build_application, discard_index

    root: Path = args.kb or settings.knowledge_dir
    if args.rebuild:
        if not root.is_dir():  # checked before the index is thrown away
            raise AssistantError(f"知识库目录不存在：{root}（索引没有改动）")
        print("正在丢弃旧索引，从知识库文件全部重建……", flush=True)
        discard_index(settings)
    report = ingest_with_progress(build_application(settings).ingestor, root)
    print(format_report(report))
    return 1 if report.failures else 0


def _ingest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kb", type=Path, default=None, help="知识库目录（默认 BOT_KNOWLEDGE_DIR）")
    parser.add_argument(
        "--rebuild", action="store_true", help="丢弃现有索引（包括已损坏的），从知识库文件全部重建；请先停止助手"
    )


def ask(settings: Settings, args: argparse.Namespace) -> int:
    """Answer one question as a resident of a group would get it, printed as JSON."""
    from bot.app import build_application
    from bot.domain.conversation import Question

    application = build_application(settings)
    application.prepare()
    reply = application.assistant.reply(Question(args.question, group_id=args.group, user_id=args.user))
    print(json.dumps(reply_json(reply), ensure_ascii=False))
    return 0


def _ask_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("question")
    parser.add_argument("--group", default="terminal", help="群 id（追问上下文按 群+居民 区分）")
    parser.add_argument("--user", default="resident", help="居民 id")


def evaluate(settings: Settings, args: argparse.Namespace) -> int:
    """Build a private temporary index from --kb, run every query through the reply path, print metrics."""
    from bot.services.evaluation import load_conversations, load_queries

    queries = _read_labelled(load_queries, args.queries)
    conversation_sets = {path.name: _read_labelled(load_conversations, path) for path in args.conversations or ()}
    decision, result = _evaluate_on(settings, args.kb or settings.knowledge_dir, queries, conversation_sets, args.sweep)
    if args.show_misses:
        print(decision.describe())
        for line in result.miss_lines:
            print(line)
    print(json.dumps(result.figures, ensure_ascii=False))
    return 0


def _evaluate_on(
    settings: Settings,
    kb: Path,
    queries: list[LabelledQuery],
    conversation_sets: Mapping[str, Sequence[Conversation]],
    sweep_decision: bool = False,
) -> tuple[AnswerDecision, Evaluation]:
    """Ingest kb into a private temporary index (calibrating the decision on it) and evaluate the reply path."""
    from bot.app import build_application
    from bot.services.answering import AnsweringService
    from bot.services.evaluation import evaluate, sweep
    from bot.services.scope import RegionScope

    with tempfile.TemporaryDirectory(prefix="bot-eval-") as tmp:
        application = build_application(settings, state_dir=Path(tmp))
        print(format_report(ingest_with_progress(application.ingestor, kb)), file=sys.stderr)
        application.prepare()
        if sweep_decision:
            undecided = AnsweringService(
                application.retriever, threshold=0.0, scope=RegionScope(settings.home_region_names)
            )
            for line in sweep(undecided, queries):
                print(line, file=sys.stderr)
        decision = application.answering.decision()
        return decision, evaluate(application.assistant, queries, conversation_sets, threshold=decision.threshold)


def _eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kb", type=Path, default=None)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument(
        "--conversations", type=Path, action="append", help="两轮对话评测集（追问）；可以给多次，每个文件分别计分"
    )
    parser.add_argument("--show-misses", action="store_true", help="列出处理错误的查询")
    parser.add_argument("--sweep", action="store_true", help="扫描置信度的领先权重和拒答阈值（用于校准）")


def evaluate_sets(settings: Settings, args: argparse.Namespace) -> int:
    """Evaluate every `<set>_kb` + `<set>_queries.jsonl` pair in a folder and print one table."""
    from bot.services.evaluation import load_queries

    folder: Path = args.sets
    if not folder.is_dir():
        print(f"没有外部评测集目录 {folder}，跳过。")
        return 0
    names = sorted(
        p.name[: -len("_kb")] for p in folder.glob("*_kb") if (folder / f"{p.name[:-3]}_queries.jsonl").is_file()
    )
    if not names:
        print(f"{folder} 里没有成对的 <集>_kb 和 <集>_queries.jsonl，跳过。")
        return 0
    rows = ["set n hit@1 correct wrong refused threshold"]
    for name in names:
        queries = _read_labelled(load_queries, folder / f"{name}_queries.jsonl")
        decision, result = _evaluate_on(settings, folder / f"{name}_kb", queries, {})
        f = result.figures
        rows.append(
            f"{name} {f['n']} {f['hit_at_1']:.3f} {f['correct_rate']:.3f} {f['wrong_answer_rate']:.3f} "
            f"{f['refused_rate']:.3f} {decision.threshold:.2f}"
        )
        print(rows[-1], file=sys.stderr, flush=True)
    print("\n".join(rows))
    return 0


def _sets_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sets", type=Path, required=True, help="外部评测集目录（每个集一对 <集>_kb 与 <集>_queries.jsonl）"
    )


def _read_labelled(loader: Callable[[Path], list[T]], path: Path) -> list[T]:
    try:
        return loader(path)
    except FileNotFoundError:
        raise AssistantError(f"文件不存在：{path}") from None
    except (OSError, UnicodeDecodeError):
        raise AssistantError(f"无法读取（应为 UTF-8 编码的 JSONL）：{path}") from None


def bench(settings: Settings, args: argparse.Namespace) -> int:
    """Run the benchmark and print its figures."""
    from bot.benchmark import run_benchmark

    print(json.dumps(run_benchmark(settings, min_chunks=args.chunks, queries_path=args.queries), ensure_ascii=False))
    return 0


def _bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chunks", type=int, default=2000, help="合成知识库的最少块数")
    parser.add_argument("--queries", type=Path, default=Path("eval/dev_queries.jsonl"))


COMMANDS = (
    Command("ingest", "增量导入知识库文件", ingest, _ingest_arguments),
    Command("ask", "问一个问题，输出 JSON", ask, _ask_arguments),
    Command("eval", "在临时索引上评测知识库，最后一行输出 JSON", evaluate, _eval_arguments),
    Command("eval-sets", "评测一个目录里的每个外部评测集，输出一张表", evaluate_sets, _sets_arguments),
    Command("bench", "性能基准：导入吞吐、查询延迟、冷启动、内存峰值", bench, _bench_arguments),
)
