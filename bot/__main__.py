"""Command line: python -m bot {chat, ask, ingest, eval, bench}."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError

from bot.config import Settings
from bot.domain.conversation import Reply
from bot.domain.errors import AssistantError
from bot.domain.knowledge import IngestReport

T = TypeVar("T")

if TYPE_CHECKING:
    import threading

    from bot.app import AssistantServices, ChannelRuntime
    from bot.console.server import ConsoleServer
    from bot.rag.ingestion import KnowledgeIngestor
    from bot.services.evaluation import LabelledQuery


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one subcommand; errors are printed in Chinese, not as tracebacks."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"配置错误：{_validation_message(exc)}", file=sys.stderr)
        return 2
    try:
        result: int = args.func(settings, args)
        return result
    except KeyboardInterrupt:
        return 130
    except AssistantError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except Exception as exc:  # last resort: a short Chinese message on screen, the traceback in a log file
        _report_unexpected(settings, exc)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="社区微信群智能助手")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="运行助手和控制台：设置了 BOT_WECHATY_ENDPOINT 时接入微信，否则在终端对话")
    run.set_defaults(func=cmd_run)

    admin = sub.add_parser("create-admin", help="创建控制台管理员账号（第一个管理员只能这样创建）")
    admin.add_argument("username", help="用户名：2–32 位字母、数字、点、下划线或连字符")
    admin.add_argument("--name", default="", help="姓名（默认同用户名）")
    admin.add_argument(
        "--password-stdin", action="store_true", help="从标准输入读取密码（供脚本使用），否则交互输入两次"
    )
    admin.set_defaults(func=cmd_create_admin)

    chat = sub.add_parser("chat", help="在终端里和助手对话（先自动增量导入知识库）")
    chat.set_defaults(func=cmd_chat)

    ask = sub.add_parser("ask", help="问一个问题，输出 JSON")
    ask.add_argument("question")
    ask.add_argument("--group", default="terminal", help="群 id（追问上下文按 群+居民 区分）")
    ask.add_argument("--user", default="resident", help="居民 id")
    ask.set_defaults(func=cmd_ask)

    questions = sub.add_parser("questions", help="列出待工作人员回答的问题")
    questions.set_defaults(func=cmd_questions)

    answer = sub.add_parser("answer", help="回答一个待答问题：答复经发件箱发给每位提问的居民")
    answer.add_argument("number", type=int, help="问题编号（#12 就填 12）")
    answer.add_argument("text", help="答复内容")
    answer.add_argument("--by", default="工作人员", help="答复人")
    answer.add_argument("--faq", action="store_true", help="同时加入知识库（写入 faq/staff-answers.csv 并重新导入）")
    answer.set_defaults(func=cmd_answer)

    ingest = sub.add_parser("ingest", help="增量导入知识库文件")
    ingest.add_argument("--kb", type=Path, default=None, help="知识库目录（默认 BOT_KNOWLEDGE_DIR）")
    ingest.add_argument(
        "--rebuild", action="store_true", help="丢弃现有索引（包括已损坏的），从知识库文件全部重建；请先停止助手"
    )
    ingest.set_defaults(func=cmd_ingest)

    evaluate = sub.add_parser("eval", help="在临时索引上评测知识库，最后一行输出 JSON")
    evaluate.add_argument("--kb", type=Path, default=None)
    evaluate.add_argument("--queries", type=Path, required=True)
    evaluate.add_argument("--conversations", type=Path, default=None, help="两轮对话评测集（追问）")
    evaluate.add_argument("--show-misses", action="store_true", help="列出处理错误的查询")
    evaluate.add_argument("--sweep", action="store_true", help="扫描置信度的领先权重和拒答阈值（用于校准）")
    evaluate.set_defaults(func=cmd_eval)

    bench = sub.add_parser("bench", help="性能基准：导入吞吐、查询延迟、冷启动、内存峰值")
    bench.add_argument("--chunks", type=int, default=2000, help="合成知识库的最少块数")
    bench.add_argument("--queries", type=Path, default=Path("eval/dev_queries.jsonl"))
    bench.set_defaults(func=cmd_bench)
    return parser


# ---------------------------------------------------------------- commands


def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    """Incrementally ingest the knowledge directory (with --rebuild: the index thrown away first) and print a
    summary."""
    from bot.app import build_knowledge, discard_index

    root: Path = args.kb or settings.knowledge_dir
    if args.rebuild:
        if not root.is_dir():  # checked before the index is thrown away
            raise AssistantError(f"知识库目录不存在：{root}（索引没有改动）")
        print("正在丢弃旧索引，从知识库文件全部重建……", flush=True)
        discard_index(settings)
    knowledge = build_knowledge(settings)
    report = _run_ingest(knowledge.ingestor, root)
    print(format_report(report))
    return 1 if report.failures else 0


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    """Answer one question as a resident of a group would get it, printed as JSON."""
    from bot.app import build_knowledge
    from bot.domain.conversation import Question

    knowledge = build_knowledge(settings)
    knowledge.assistant.prepare()
    reply = knowledge.assistant.reply(Question(args.question, group_id=args.group, user_id=args.user))
    print(json.dumps(reply_json(reply), ensure_ascii=False))
    return 0


def reply_json(reply: Reply) -> dict[str, object]:
    """The JSON form of a reply: answer, answered, reason, score, sources, latency_ms (the answer mode, and the
    choices offered when a question was refused)."""
    sources = [s for answer in reply.answers if answer.answered for s in answer.sources]
    choices = reply.primary.choices if reply.primary else ()
    return {
        "answer": reply.text,
        "answered": reply.answered,
        "reason": reply.reason,
        "score": reply.score,
        "sources": [{"id": s.entry_id, "title": s.title, "section": s.section} for s in sources],
        "latency_ms": reply.latency_ms,
        "mode": reply.primary.mode if reply.primary else "none",
        "choices": [{"id": c.entry_id, "title": c.title, "section": c.section} for c in choices],
    }


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    """The product: the staff console plus WeChat when a puppet service is configured, else the terminal chat."""
    if not settings.wechaty_endpoint:
        return cmd_chat(settings, args)
    import asyncio
    import signal

    from bot.runtime import WechatRuntime

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    knowledge = _ready_services(settings)
    runtime = WechatRuntime(
        knowledge,
        endpoint=settings.wechaty_endpoint,
        token=settings.wechaty_token.get_secret_value(),
        login_timeout_s=settings.wechaty_login_timeout_s,
    )
    console = _start_console(knowledge, runtime.runtime)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        serving = asyncio.create_task(runtime.run(stop))
        await asyncio.sleep(0)
        for sig in (signal.SIGINT, signal.SIGTERM):  # after wechaty installed its own handlers
            loop.add_signal_handler(sig, stop.set)
        print(f"正在连接微信服务 {settings.wechaty_endpoint}（登录后开始回复），按 Ctrl-C 停止。", flush=True)
        await serving

    try:
        asyncio.run(serve())
    finally:
        if console is not None:
            console.stop()
    return 0


def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    """An interactive conversation in the terminal (a private chat through the router and outbox, like WeChat),
    with the staff console beside it when run as the product."""
    import asyncio
    import threading

    from bot.app import build_channel_runtime
    from bot.channels.terminal import TerminalChannel, TerminalGateway
    from bot.services.sending import SendingPolicy

    knowledge = _ready_services(settings)
    # The terminal is no WeChat account to protect: no spacing between messages.
    runtime = build_channel_runtime(
        knowledge, TerminalGateway(lambda text: print(text, flush=True)), policy=SendingPolicy(0, 0)
    )
    sending = threading.Lock()

    def drain() -> None:
        with sending:
            asyncio.run(runtime.sender.send_due())

    console = _start_console(knowledge, runtime) if args.command == "run" else None
    stop = threading.Event()
    if console is not None:
        # Answers staff send from the console reach the terminal resident without waiting for the next line.
        threading.Thread(target=_drain_until, args=(drain, stop), name="terminal-sender", daemon=True).start()
    channel = TerminalChannel(runtime.router.handle, drain, knowledge.clock)
    try:
        if console is not None and not sys.stdin.isatty():
            print("没有交互终端：只运行控制台，按 Ctrl-C 停止。", flush=True)
            stop.wait()
            return 0
        print("您好，我是社区小助手。请输入您的问题（输入“退出”或按 Ctrl-D 结束）。", flush=True)
        while True:
            try:
                line = input("居民> ")
            except EOFError:
                print()
                return 0
            if line.strip() in {"退出", "exit", "quit"}:
                return 0
            if line.strip():
                channel.say(line)
    finally:
        stop.set()
        if console is not None:
            console.stop()


def _drain_until(drain: Callable[[], None], stop: threading.Event, every_s: float = 1.0) -> None:
    while not stop.wait(every_s):
        drain()


def _start_console(knowledge: AssistantServices, runtime: ChannelRuntime) -> ConsoleServer | None:
    """Serve the staff console beside the chat channel (unless switched off) and print its address."""
    settings = knowledge.settings
    if not settings.console_enabled:
        return None
    from bot.app import build_console, staff_accounts
    from bot.console.app import create_console
    from bot.console.server import ConsoleServer

    _log_to_file(logging.getLogger("bot.console"), settings.data_dir / "logs" / "console.log")
    server = ConsoleServer(
        create_console(build_console(knowledge, runtime)), host=settings.console_host, port=settings.console_port
    )
    server.start()
    print(f"控制台已启动：{server.address}", flush=True)
    if not staff_accounts(knowledge.sessions, knowledge.clock).has_admin():
        print("  还没有管理员账号，请另开终端运行：python -m bot create-admin 用户名", flush=True)
    return server


def cmd_create_admin(settings: Settings, args: argparse.Namespace) -> int:
    """Create a console admin; the password is typed twice (never a default one)."""
    import getpass

    from bot.app import open_database, staff_accounts
    from bot.domain.staff import Role, StaffProfile
    from bot.ports import SystemClock

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("密码（至少 8 位）：")
        if getpass.getpass("再输一遍：") != password:
            raise AssistantError("两次输入的密码不一致，账号未创建。")
    accounts = staff_accounts(open_database(settings.database), SystemClock())
    user = accounts.create_user(
        None, username=args.username, profile=StaffProfile(args.name, Role.ADMIN), password=password
    )
    print(f"已创建管理员 {user.username}，可以登录控制台了。")
    return 0


def _ready_services(settings: Settings) -> AssistantServices:
    """Everything wired, the knowledge base ingested (incrementally) and the models loaded."""
    from bot.app import build_knowledge

    knowledge = build_knowledge(settings)
    print("正在检查知识库……", flush=True)
    print(format_report(_run_ingest(knowledge.ingestor, settings.knowledge_dir)), flush=True)
    knowledge.assistant.prepare()
    return knowledge


def cmd_questions(settings: Settings, args: argparse.Namespace) -> int:
    """List the open unanswered questions, urgent first."""
    from bot.app import build_knowledge
    from bot.storage.unanswered import SqlUnansweredQuestions

    knowledge = build_knowledge(settings)
    open_questions = SqlUnansweredQuestions(knowledge.sessions).open_questions()
    if not open_questions:
        print("没有待答的问题。")
    for question in open_questions:
        waited = knowledge.clock.now() - question.created_at
        flag = "【急】" if question.urgent else ""
        print(f"#{question.id} {flag}{question.question}（{len(question.askers)} 人问过，已等 {_duration(waited)}）")
    return 0


def cmd_answer(settings: Settings, args: argparse.Namespace) -> int:
    """Answer question #n from the terminal: queued for every asker; optionally added to the knowledge base."""
    from bot.app import build_channel_runtime, build_knowledge
    from bot.channels.terminal import TerminalGateway
    from bot.domain.escalation import QuestionNotOpenError
    from bot.domain.staff import Actor
    from bot.services.faq_book import FaqEditError, NotAnsweredError

    knowledge = build_knowledge(settings)
    # The running assistant's sender delivers the queued answers; this process only queues them.
    runtime = build_channel_runtime(knowledge, TerminalGateway())
    actor = Actor.command_line(args.by)
    try:
        answered = runtime.escalation.answer(args.number, args.text, actor=actor)
    except QuestionNotOpenError:
        raise AssistantError(f"没有找到待答的 #{args.number}（可能已经答过了）") from None
    print(f"已把 #{args.number} 的答复排入发件箱，发给 {len(answered.askers)} 位居民。")
    if args.faq:
        try:
            entry_id = runtime.faq_book.add(answered)
        except (NotAnsweredError, FaqEditError) as exc:
            raise AssistantError(str(exc)) from None
        runtime.audit.record_as(actor, "faq_added", target=entry_id, detail=f"#{args.number}")
        print(f"已加入知识库：{entry_id}")
    return 0


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} 小时 {minutes % 60} 分钟" if minutes >= 60 else f"{minutes} 分钟"


def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    """Build a private temporary index from --kb, run every query through the reply path, print metrics."""
    from bot.app import build_knowledge
    from bot.domain.conversation import Question
    from bot.services.evaluation import (
        load_conversations,
        load_queries,
        misses,
        score_conversations,
        score_replies,
    )

    kb = args.kb or settings.knowledge_dir
    queries = _read_labelled(load_queries, args.queries)
    conversations = _read_labelled(load_conversations, args.conversations) if args.conversations else []
    with tempfile.TemporaryDirectory(prefix="bot-eval-") as tmp:
        knowledge = build_knowledge(settings, state_dir=Path(tmp))
        report = _run_ingest(knowledge.ingestor, kb)
        print(format_report(report), file=sys.stderr)
        knowledge.assistant.prepare()
        if args.sweep:
            _sweep(settings, knowledge, queries)
        assistant = knowledge.assistant
        assistant.reply(Question(queries[0].query, "eval", "warm-up"))  # latency figures are steady-state
        # Every query comes from a different resident, so no follow-up context carries over between them.
        replies = [assistant.reply(Question(q.query, "eval", f"q{n}")) for n, q in enumerate(queries)]
        metrics = score_replies(queries, replies, threshold=knowledge.answering.threshold)
        last_replies = []
        for n, conversation in enumerate(conversations):
            for turn in conversation.turns:
                reply = assistant.reply(Question(turn.query, "eval", f"c{n}"))
            last_replies.append(reply)
        if args.show_misses:
            for line in misses(queries, replies):
                print(line)
            for conversation, reply in zip(conversations, last_replies, strict=True):
                for line in misses(conversation.turns[-1:], [reply]):
                    print(f"[对话 {conversation.kind}] {conversation.turns[0].query} → {line}")
    figures: dict[str, object] = json.loads(metrics.to_json())
    if conversations:
        figures.update(score_conversations(conversations, last_replies))
    print(json.dumps(figures, ensure_ascii=False))
    return 0


def _read_labelled(loader: Callable[[Path], list[T]], path: Path) -> list[T]:
    try:
        return loader(path)
    except FileNotFoundError:
        raise AssistantError(f"文件不存在：{path}") from None
    except (OSError, UnicodeDecodeError):
        raise AssistantError(f"无法读取（应为 UTF-8 编码的 JSONL）：{path}") from None


def cmd_bench(settings: Settings, args: argparse.Namespace) -> int:
    """Run the benchmark and print its figures."""
    from bot.benchmark import run_benchmark

    figures = run_benchmark(settings, min_chunks=args.chunks, queries_path=args.queries)
    print(json.dumps(figures, ensure_ascii=False))
    return 0


# ---------------------------------------------------------------- helpers


def _run_ingest(ingestor: KnowledgeIngestor, root: Path) -> IngestReport:
    from tqdm import tqdm

    bar: tqdm[None] | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc="嵌入", unit="块", file=sys.stderr, disable=None)
        bar.update(done - bar.n)

    try:
        return ingestor.ingest(root, progress=progress)
    finally:
        if bar is not None:
            bar.close()


def format_report(report: IngestReport) -> str:
    """A short Chinese summary of an ingest run, one line per failed file."""
    lines = [
        f"知识库导入：文件 {report.files_total} 个（新增 {len(report.files_added)}，更新 {len(report.files_updated)}，"
        f"未变跳过 {len(report.files_unchanged)}，删除 {len(report.files_removed)}，失败 {len(report.failures)}）；"
        f"索引共 {report.chunks_total} 块，本次嵌入 {report.chunks_embedded} 块，用时 {report.seconds:.1f} 秒"
        + ("；嵌入模型已更换，已全部重建" if report.rebuilt else "")
    ]
    lines += [f"  失败：{f.file} —— {f.reason}" for f in report.failures]
    if report.failures:
        lines.append("  失败的文件保留上一次成功导入的版本（如有），修正后重新导入即可。")
    return "\n".join(lines)


def _sweep(settings: Settings, knowledge: AssistantServices, labelled: Sequence[LabelledQuery]) -> None:
    """Print metrics over a grid of margin weights, agreement bonuses and refusal thresholds (tuning aid, stderr)."""
    from bot.services.answering import AnsweringService, confidence
    from bot.services.evaluation import score_replies
    from bot.services.scope import RegionScope

    print("margin_weight agreement_bonus threshold hit@1 hit@3 mrr correct wrong refused", file=sys.stderr)
    service = AnsweringService(knowledge.retriever, threshold=0.0, scope=RegionScope(settings.home_region_names))
    raw = [service.answer(q.query) for q in labelled]  # retrieval once; only the decision varies below
    for margin_weight in (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0):
        for agreement_bonus in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
            scores = [confidence(a.hits, margin_weight, agreement_bonus) for a in raw]
            for t in range(40, 301, 5):
                threshold = t / 100
                decided = [
                    Reply(a.text, a.answered and score >= threshold, a.reason, (a,), a.latency_ms)
                    for a, score in zip(raw, scores, strict=True)
                ]
                m = score_replies(labelled, decided, threshold=threshold)
                print(
                    f"{margin_weight:.1f} {agreement_bonus:.1f} {threshold:.2f} {m.hit_at_1:.3f} {m.hit_at_3:.3f} "
                    f"{m.mrr:.3f} {m.correct_rate:.3f} {m.wrong_answer_rate:.3f} {m.refused_rate:.3f}",
                    file=sys.stderr,
                )


def _log_to_file(logger: logging.Logger, path: Path) -> None:
    """Send a logger's records (errors with their tracebacks) to a file instead of the terminal."""
    from bot.local_state import LocalStateError, os_error_message, prepare_directory

    prepare_directory(path.parent, "日志目录")
    try:
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise LocalStateError(os_error_message(path.parent, exc, "日志目录")) from exc
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False


def _report_unexpected(settings: Settings, exc: Exception) -> None:
    """Tell staff in one Chinese line that something unexpected failed and where its details are; never raises.

    The traceback goes to data/logs/bot.log or, when the data directory cannot take it (read-only, full, not a
    directory), to a new file in the temporary directory; the library's own text stays in that file.
    """
    try:
        log_file = _log_exception(settings, exc)
        if log_file is not None:
            message = f"运行出错，详细信息已写入 {log_file}；请把这个文件交给技术人员。"
        else:
            message = (
                f"运行出错，而且无法写入日志：数据目录 {settings.data_dir.absolute()} "
                "和临时目录都不能写；请检查磁盘空间和目录权限。"
            )
        print(message, file=sys.stderr)
    except Exception:  # even stderr may be gone; the exit code still says the command failed
        return


def _log_exception(settings: Settings, exc: Exception) -> Path | None:
    """Append exc's traceback to data/logs/bot.log, else to a new file in the temporary directory; the file
    written, or None when neither can be written. Never raises."""
    record = (
        f"{datetime.now().isoformat(sep=' ', timespec='seconds')} ERROR command failed\n"
        + "".join(traceback.format_exception(exc))
    )
    try:
        log_file = settings.data_dir / "logs" / "bot.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("a", encoding="utf-8") as out:
            out.write(record)
        return log_file
    except Exception:  # the data directory is the problem, perhaps: fall back to a private temporary file
        pass
    try:
        descriptor, name = tempfile.mkstemp(prefix="community-assistant-", suffix=".log")
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(record)
        return Path(name)
    except Exception:
        return None


def _validation_message(exc: ValidationError) -> str:
    return "；".join(f"{'.'.join(str(p) for p in e['loc']) or '设置'}: {e['msg']}" for e in exc.errors())


if __name__ == "__main__":
    sys.exit(main())
