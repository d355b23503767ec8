"""The command line as a user runs it: real processes, real index, Chinese messages, JSON where promised."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.knowledge_files import small_knowledge_base

EVAL_KEYS = {
    "n",
    "hit_at_1",
    "hit_at_3",
    "mrr",
    "correct_rate",
    "wrong_answer_rate",
    "refused_rate",
    "p50_ms",
    "p95_ms",
}

if TYPE_CHECKING:
    from bot.app import Application


def _run(
    tmp_path: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "BOT_DATA_DIR": str(tmp_path / "data"), "BOT_KNOWLEDGE_DIR": str(tmp_path / "kb")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    return small_knowledge_base(tmp_path / "kb")


def test_ingest_prints_a_summary_and_fails_on_broken_files(tmp_path: Path, kb: Path) -> None:
    first = _run(tmp_path, "ingest")
    assert first.returncode == 0, first.stderr
    assert "文件 4 个（新增 4" in first.stdout and "本次嵌入 22 块" in first.stdout

    (kb / "faq" / "broken.xlsx").write_bytes(b"not a workbook")
    second = _run(tmp_path, "ingest")
    assert second.returncode == 1
    assert "未变跳过 4" in second.stdout and "本次嵌入 0 块" in second.stdout
    assert "失败：faq/broken.xlsx —— 不是有效的 Excel" in second.stdout
    assert "Traceback" not in second.stderr


def test_ask_prints_json_with_sources(tmp_path: Path, kb: Path) -> None:
    assert _run(tmp_path, "ingest").returncode == 0
    result = _run(tmp_path, "ask", "楼道里的灭火器过期了该找谁")
    answer = json.loads(result.stdout)
    assert set(answer) == {"answer", "answered", "reason", "score", "sources", "latency_ms", "mode", "choices"}
    assert answer["answered"] is True and answer["sources"][0]["id"] == "faq-t-fire-01"
    assert "物业" in answer["answer"] and "来源：测试" in answer["answer"]


def test_ask_before_ingest_explains_what_to_do(tmp_path: Path, kb: Path) -> None:
    result = _run(tmp_path, "ask", "食堂几点开饭")
    assert result.returncode == 1 and "请先运行：python -m bot ingest" in result.stderr
    assert "Traceback" not in result.stderr


def test_chat_answers_in_the_terminal(tmp_path: Path, kb: Path) -> None:
    result = _run(tmp_path, "chat", stdin="电瓶车能推回家充电吗\n北京的高龄津贴多少钱\n退出\n")
    assert result.returncode == 0, result.stderr
    assert "不能。电动自行车禁止进楼道" in result.stdout
    assert "我只了解本社区的政策和服务，北京的情况" in result.stdout


def test_eval_uses_a_private_index_and_prints_json_last(tmp_path: Path, kb: Path) -> None:
    queries = tmp_path / "queries.jsonl"
    rows = [
        {"query": "楼道灭火器坏了谁来换", "expected_id": "faq-t-fire-01"},
        {"query": "食堂中午几点开饭", "expected_id": "faq-t-canteen-01"},
        {"query": "高龄津贴要带什么材料", "expected_id": "guide-t-elderly"},
        {"query": "明天股票会涨吗", "expected_id": None},
    ]
    queries.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    result = _run(tmp_path, "eval", "--kb", str(kb), "--queries", str(queries))
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert EVAL_KEYS <= set(metrics) and metrics["n"] == 4
    assert metrics["hit_at_1"] == 1.0 and metrics["wrong_answer_rate"] == 0.0
    assert not (tmp_path / "data" / "chroma").exists()


def test_eval_scores_each_conversation_file_given(tmp_path: Path, kb: Path) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"query": "食堂中午几点开饭", "expected_id": "faq-t-canteen-01"}), encoding="utf-8")
    sets = {
        "topic.jsonl": [("食堂中午几点开饭", "faq-t-canteen-01"), ("明天股票会涨吗", None)],
        "other.jsonl": [("楼道灭火器坏了谁来换", "faq-t-fire-01"), ("双色球下期号码推荐几个", None)],
    }
    arguments = ["eval", "--kb", str(kb), "--queries", str(queries)]
    for name, turns in sets.items():
        row = {"turns": [{"query": q, "expected_id": e} for q, e in turns], "kind": "new_topic"}
        (tmp_path / name).write_text(json.dumps(row, ensure_ascii=False), encoding="utf-8")
        arguments += ["--conversations", str(tmp_path / name)]
    result = _run(tmp_path, *arguments)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(figures["conversation_sets"]) == set(sets)
    for scored in figures["conversation_sets"].values():
        assert scored["conversations"] == 1 and scored["followup_correct_rate"] == 1.0


def test_eval_rejects_a_malformed_query_file(tmp_path: Path, kb: Path) -> None:
    queries = tmp_path / "bad.jsonl"
    queries.write_text('{"query": "问题", "expected_id": "x"}\n{broken\n', encoding="utf-8")
    result = _run(tmp_path, "eval", "--kb", str(kb), "--queries", str(queries))
    assert result.returncode == 1 and "第 2 行不是合法的 JSON" in result.stderr


def test_invalid_setting_is_reported_in_chinese(tmp_path: Path, kb: Path) -> None:
    result = _run(tmp_path, "ask", "你好", env={"BOT_EMBEDDING_BACKEND": "sentence-transformers"})
    assert result.returncode == 2 and "配置错误" in result.stderr and "BOT_EMBEDDING_MODEL" in result.stderr


def test_ingest_script_at_the_repository_root(tmp_path: Path, kb: Path) -> None:
    script = Path(__file__).resolve().parent.parent / "ingest.py"
    environment = {**os.environ, "BOT_DATA_DIR": str(tmp_path / "data"), "BOT_KNOWLEDGE_DIR": str(kb)}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "新增 4" in result.stdout


def test_unreachable_chroma_server_and_missing_directory_are_explained(tmp_path: Path, kb: Path) -> None:
    server = _run(tmp_path, "ask", "你好", env={"BOT_VECTOR_STORE": "server", "BOT_CHROMA_PORT": "1"})
    assert server.returncode == 1 and "连不上 Chroma 向量库服务 127.0.0.1:1" in server.stderr
    missing = _run(tmp_path, "ingest", "--kb", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "知识库目录不存在" in missing.stderr
    for result in (server, missing):
        assert "Traceback" not in result.stderr


def test_every_handled_message_is_recorded_masked(tmp_path: Path, kb: Path) -> None:
    import sqlite3

    assert _run(tmp_path, "ingest").returncode == 0
    assert _run(tmp_path, "ask", "我电话13812345678，食堂几点开饭", "--group", "g9", "--user", "wxid_9").returncode == 0
    with sqlite3.connect(tmp_path / "data" / "assistant.db") as db:
        rows = db.execute("select group_id, user_id, question, answered, sources from conversation_turns").fetchall()
    assert len(rows) == 1
    group, user, question, answered, sources = rows[0]
    assert (group, user, answered) == ("g9", "wxid_9", 1)
    assert "13812345678" not in question and "138****5678" in question
    assert json.loads(sources) == ["faq-t-canteen-01"]


def test_staff_can_list_and_answer_questions_from_the_terminal(tmp_path: Path, kb: Path) -> None:
    from bot.app import build_application
    from bot.config import Settings
    from bot.domain.conversation import Question
    from bot.storage.channel import SqlOutbox

    assert _run(tmp_path, "questions").stdout.strip() == "没有待答的问题。"
    settings = Settings(data_dir=tmp_path / "data", knowledge_dir=kb, _env_file=None)  # type: ignore[call-arg]
    runtime = build_application(settings)
    runtime.escalation.escalate(Question("小区里能不能养鸽子", "room-3", "wxid_li"), reason="low_confidence")

    listed = _run(tmp_path, "questions")
    assert listed.stdout.startswith("#1 小区里能不能养鸽子（1 人问过，已等 0 分钟）")
    empty = _run(tmp_path, "answer", "1", " ")  # said plainly, not the last-resort "运行出错"
    assert empty.returncode == 1 and empty.stderr.strip() == "答复内容不能为空"
    one_case = _run(tmp_path, "answer", "1", "已经通知物业，明天上午会清走。", "--faq")
    assert one_case.returncode == 1 and "只针对这一件事" in one_case.stderr and "--faq-anyway" in one_case.stderr
    assert _run(tmp_path, "questions").stdout.startswith("#1 ")  # nothing was sent: the question is still open
    answered = _run(tmp_path, "answer", "1", "小区不允许养鸽子。", "--by", "张主任", "--faq")
    assert answered.returncode == 0, answered.stderr
    assert "发给 1 位居民" in answered.stdout and "已加入知识库：faq-staff-1" in answered.stdout
    due = SqlOutbox(runtime.outbox._sessions).due(now=runtime.router._clock.now(), limit=10)
    assert [q.message.mention_ids for q in due] == [("wxid_li",)]
    assert (kb / "faq" / "staff-answers.csv").is_file()
    again = _run(tmp_path, "answer", "1", "再答")
    assert again.returncode == 1 and "没有找到待答的 #1" in again.stderr


def test_the_first_admin_is_created_on_the_command_line_with_a_real_password(tmp_path: Path) -> None:
    weak = _run(tmp_path, "create-admin", "chief", "--password-stdin", stdin="123456\n")
    assert weak.returncode == 1 and "密码至少 8 位" in weak.stderr and "Traceback" not in weak.stderr
    created = _run(
        tmp_path, "create-admin", "chief", "--name", "王主任", "--password-stdin", stdin="Harbour-lights-42\n"
    )
    assert created.returncode == 0 and "已创建管理员 chief" in created.stdout
    again = _run(tmp_path, "create-admin", "chief", "--password-stdin", stdin="Harbour-lights-42\n")
    assert again.returncode == 1 and "已被使用" in again.stderr


def test_run_serves_the_console_beside_the_chat_and_prints_its_address(tmp_path: Path, kb: Path) -> None:
    import signal
    import time
    import urllib.request

    from tests.support.gateway import free_port

    port = free_port()
    environment = {
        **os.environ,
        "BOT_DATA_DIR": str(tmp_path / "data"),
        "BOT_KNOWLEDGE_DIR": str(kb),
        "BOT_CONSOLE_PORT": str(port),
    }
    process = _run_console_only(tmp_path, environment, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any("控制台已启动" in line for line in lines):
            lines.append(process.stdout.readline())
        assert f"控制台已启动：http://127.0.0.1:{port}/" in "".join(lines)
        assert "create-admin" in process.stdout.readline()  # no admin yet: says how to create one
        login = urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10).read().decode()
        assert "社区助手控制台" in login and "python -m bot create-admin" in login
    finally:
        process.send_signal(signal.SIGTERM)  # as a service manager stops it
        _, errors = process.communicate(timeout=30)
    assert process.returncode in (0, 130) and "Traceback" not in errors


def test_console_only_mode_runs_the_scheduled_reminders(tmp_path: Path, kb: Path) -> None:
    """No WeChat and no terminal: the deployment's scheduler still reminds staff of overdue questions."""
    import signal
    import time

    from bot.app import build_application
    from bot.config import Settings
    from bot.domain.conversation import Question
    from tests.support.gateway import free_port

    environment = {
        **os.environ,
        "BOT_DATA_DIR": str(tmp_path / "data"),
        "BOT_KNOWLEDGE_DIR": str(kb),
        "BOT_CONSOLE_PORT": str(free_port()),
        "BOT_STAFF_GROUP_ID": "staff@chatroom",
        "BOT_UNANSWERED_REMIND_MINUTES": "0.02",  # every 1.2 s
    }
    settings = Settings(data_dir=tmp_path / "data", knowledge_dir=kb, staff_group_id="staff@chatroom", _env_file=None)  # type: ignore[call-arg]
    application = build_application(settings)
    application.escalation.escalate(Question("小区里能不能养鸽子", "room-3", "wxid_li"), reason="low_confidence")

    def reminders() -> int:
        return sum("超时未答" in text for text in _outbox_texts(application))

    assert reminders() == 0
    process = _run_console_only(tmp_path, environment, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while reminders() == 0 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert reminders() >= 1, "no reminder was queued while the console ran alone"
    finally:
        process.send_signal(signal.SIGTERM)  # as a service manager stops it
        _, errors = process.communicate(timeout=60)
    assert process.returncode in (0, 130) and "Traceback" not in errors


def _run_console_only(tmp_path: Path, environment: dict[str, str], *, stdout: int) -> subprocess.Popen[str]:
    """`python -m bot run` without a terminal and without WeChat: the console (and the scheduler) until stopped."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=environment,
    )


def _outbox_texts(application: Application) -> list[str]:
    from sqlalchemy import select

    from bot.storage.models import OutboxRow

    with application.sessions() as session:
        return list(session.scalars(select(OutboxRow.text)))
