"""Start-up faults of the local state (BOT_DATA_DIR) as staff meet them: the real command, one Chinese sentence
naming the path and what to do, a non-zero exit, never a traceback or a library's English text.

A read-only or full data directory is made real: as an ordinary user by permissions, and where mounts are allowed
(root, or a user namespace) by a read-only bind mount or a tiny tmpfs in a private mount namespace of the command
alone, so nothing outside the test sees the mount.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.gateway import free_port
from tests.support.knowledge_files import small_knowledge_base

REPO = Path(__file__).resolve().parent.parent
REBUILD = "python -m bot ingest --rebuild"
# Library text that must never reach the screen (what the unfixed commands printed).
LIBRARY_TEXT = ("Traceback", "Errno", "Error", "Exception", "sqlite3", "not a database", "disk image", "sqlalche")


def _bot(
    data: Path,
    kb: Path,
    *args: str,
    stdin: str = "",
    in_namespace: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` with the given data and knowledge directories; in_namespace is a shell snippet run
    first, as root of a private mount namespace of this command alone (see _mount_namespace)."""
    environment = {
        **os.environ,
        "BOT_DATA_DIR": str(data),
        "BOT_KNOWLEDGE_DIR": str(kb),
        "BOT_CONSOLE_PORT": str(free_port()),
    }
    command = [sys.executable, "-m", "bot", *args]
    if in_namespace is not None:
        prefix = _mount_namespace()
        assert prefix is not None
        command = [*prefix, "sh", "-ec", f'{in_namespace}\nexec "$@"', "sh", *command]
    cwd = next(parent for parent in data.parents if parent.is_dir())
    return subprocess.run(command, input=stdin, capture_output=True, text=True, cwd=cwd, env=environment, timeout=300)


@functools.cache
def _mount_namespace() -> tuple[str, ...] | None:
    """The command prefix giving a process its own mount namespace in which it may mount, or None where neither
    root nor an unprivileged user namespace allows that."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    prefix = (unshare, "--mount", *(() if os.geteuid() == 0 else ("--map-root-user",)))
    with tempfile.TemporaryDirectory() as target:
        probe = subprocess.run(
            [*prefix, "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$1"', "sh", target],
            capture_output=True,
            timeout=30,
        )
    return prefix if probe.returncode == 0 else None


def _assert_explained(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    """A non-zero exit and exactly one line on stderr: Chinese, with every expected fragment, no library text."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    message = lines[0]
    for fragment in expected:
        assert fragment in message, message
    assert re.search(r"[\u4e00-\u9fff]", message), message
    for text in LIBRARY_TEXT:
        assert text not in result.stderr and text not in result.stdout, result.stderr
    # Apart from the paths and the command to run, no English words: no library message slipped through.
    words = re.sub(r"/\S*|python -m bot ingest --rebuild|BOT_[A-Z_]+|-wal|-shm", " ", message)
    assert not re.search(r"[A-Za-z]{3,}[ :,]+[A-Za-z]{3,}", words), message


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    return small_knowledge_base(tmp_path / "kb")


# Every command that starts the assistant's local state, with what it reads from stdin.
COMMANDS: dict[str, tuple[list[str], str]] = {
    "ask": (["ask", "食堂几点开饭"], ""),
    "ingest": (["ingest"], ""),
    "chat": (["chat"], "退出\n"),
    "run": (["run"], ""),
    "create-admin": (["create-admin", "chief", "--password-stdin"], "Harbour-lights-42\n"),
    "eval": (["eval", "--queries", "queries.jsonl"], ""),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_data_dir_that_is_a_regular_file_is_named_with_what_to_do(tmp_path: Path, kb: Path, command: str) -> None:
    data = tmp_path / "data"
    data.write_text("not a directory")
    (tmp_path / "queries.jsonl").write_text(
        json.dumps({"query": "食堂几点开饭", "expected_id": "faq-t-canteen-01"}, ensure_ascii=False), encoding="utf-8"
    )
    args, stdin = COMMANDS[command]
    result = _bot(data, kb, *args, stdin=stdin)
    _assert_explained(result, str(data), "是一个文件", "BOT_DATA_DIR")


def test_a_data_dir_below_a_regular_file_names_that_file(tmp_path: Path, kb: Path) -> None:
    blocker = tmp_path / "srv"
    blocker.write_text("a file where a directory should be")
    result = _bot(blocker / "data", kb, "ask", "食堂几点开饭")
    _assert_explained(result, str(blocker / "data"), f"{blocker} 是一个文件")


def test_a_read_only_data_dir_is_named_with_what_to_do(tmp_path: Path, kb: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    if os.geteuid() != 0:
        data.chmod(0o500)
        try:
            result = _bot(data, kb, "ask", "食堂几点开饭")
        finally:
            data.chmod(0o700)
    else:
        if _mount_namespace() is None:
            pytest.skip("root ignores permissions, and this machine allows no private mount to make a read-only one")
        read_only = f"mount --bind {data} {data}\nmount -o remount,bind,ro {data}"
        result = _bot(data, kb, "ask", "食堂几点开饭", in_namespace=read_only)
    _assert_explained(result, str(data), "不能写入", "BOT_DATA_DIR")


def test_a_data_dir_on_a_full_disk_is_named_with_what_to_do(tmp_path: Path, kb: Path) -> None:
    if _mount_namespace() is None:
        pytest.skip("this machine allows no private mount (neither root nor a user namespace) for a full tmpfs")
    data = tmp_path / "data"
    data.mkdir()
    fill = f"mount -t tmpfs -o size=256k tmpfs {data}\ndd if=/dev/zero of={data}/filler bs=4k 2>/dev/null || true"
    result = _bot(data, kb, "ask", "食堂几点开饭", in_namespace=fill)
    _assert_explained(result, str(data), "磁盘已满")


@pytest.mark.parametrize("size", ["256k", "512k"])  # runs out in the database's migrations / in Chroma's compaction
def test_a_disk_that_fills_up_while_ingesting_is_reported_as_full(tmp_path: Path, kb: Path, size: str) -> None:
    if _mount_namespace() is None:
        pytest.skip("this machine allows no private mount (neither root nor a user namespace) for a full tmpfs")
    data = tmp_path / "data"
    data.mkdir()
    result = _bot(data, kb, "ingest", in_namespace=f"mount -t tmpfs -o size={size} tmpfs {data}")
    _assert_explained(result, str(data), "所在的磁盘", "清理出空间")


def test_a_corrupt_database_file_is_named_with_restore_or_move_away(tmp_path: Path, kb: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    database = data / "assistant.db"
    database.write_bytes(b"\x17garbage that is no SQLite database\x00" * 300)
    result = _bot(data, kb, "ask", "食堂几点开饭")
    _assert_explained(result, str(database), "已损坏", "备份", "移")


def test_a_database_made_by_a_newer_version_is_named_with_what_to_do(tmp_path: Path, kb: Path) -> None:
    import sqlite3

    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / "assistant.db") as database:
        database.execute("create table alembic_version (version_num varchar(32) primary key)")
        database.execute("insert into alembic_version values ('f0f0f0f0f0f0')")
    result = _bot(data, kb, "create-admin", "chief", "--password-stdin", stdin="Harbour-lights-42\n")
    _assert_explained(result, str(data / "assistant.db"), "结构版本", "备份")


def test_an_unreachable_database_server_is_named_without_its_password(tmp_path: Path, kb: Path) -> None:
    url = "postgresql+psycopg://staff:s3cret-pass@127.0.0.1:1/assistant"
    environment = {**os.environ, "BOT_DATA_DIR": str(tmp_path / "data"), "BOT_DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "create-admin", "chief", "--password-stdin"],
        input="Harbour-lights-42\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )
    _assert_explained(result, "127.0.0.1:1/assistant", "数据库服务", "BOT_DATABASE_URL")
    assert "s3cret-pass" not in result.stderr


@pytest.mark.parametrize("command", ["ask", "ingest"])
def test_a_corrupt_chroma_database_is_named_with_the_rebuild_command(tmp_path: Path, kb: Path, command: str) -> None:
    data = tmp_path / "data"
    (data / "chroma").mkdir(parents=True)
    (data / "chroma" / "chroma.sqlite3").write_bytes(b"\x17garbage that is no SQLite database\x00" * 300)
    result = _bot(data, kb, *(["ask", "食堂几点开饭"] if command == "ask" else ["ingest"]))
    _assert_explained(result, str(data / "chroma"), "已损坏", REBUILD)


def test_corrupt_chroma_segment_files_are_named_with_the_rebuild_command(tmp_path: Path) -> None:
    data = tmp_path / "data"
    kb = REPO / "knowledge"  # big enough for Chroma to keep its vectors in segment files
    assert _bot(data, kb, "ingest").returncode == 0
    segments = [path for path in (data / "chroma").glob("*/*") if path.is_file()]
    assert segments
    for path in segments:
        path.write_bytes(b"\x17garbage\x00" * max(1, path.stat().st_size // 9))
    result = _bot(data, kb, "ask", "食堂几点开饭")
    _assert_explained(result, str(data / "chroma"), "已损坏", REBUILD)


def test_ingest_rebuild_replaces_a_corrupt_index_and_answers_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    kb = REPO / "knowledge"
    (data / "chroma").mkdir(parents=True)
    (data / "chroma" / "chroma.sqlite3").write_bytes(b"\x17garbage that is no SQLite database\x00" * 300)
    (data / "chroma" / "leftover-segment").mkdir()

    rebuilt = _bot(data, kb, "ingest", "--rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "正在丢弃旧索引" in rebuilt.stdout and "新增" in rebuilt.stdout
    assert not (data / "chroma" / "leftover-segment").exists()
    answer = json.loads(_bot(data, kb, "ask", "灭火器过期了找谁换").stdout)
    assert answer["answered"] is True


def test_ingest_rebuild_keeps_the_index_when_the_knowledge_directory_is_missing(tmp_path: Path, kb: Path) -> None:
    data = tmp_path / "data"
    assert _bot(data, kb, "ingest").returncode == 0
    result = _bot(data, tmp_path / "nowhere", "ingest", "--rebuild")
    _assert_explained(result, str(tmp_path / "nowhere"), "知识库目录不存在")
    assert json.loads(_bot(data, kb, "ask", "楼道里的灭火器过期了该找谁").stdout)["answered"] is True


@pytest.mark.parametrize("temp_usable", [True, False])
def test_the_last_resort_handler_survives_an_unwritable_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], temp_usable: bool
) -> None:
    import bot.cli as cli
    from bot.cli.command import Command

    data = tmp_path / "data"
    data.write_text("not a directory")
    temp = tmp_path / "temp"
    if temp_usable:
        temp.mkdir()
    else:
        temp.write_text("not a directory either")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_DATA_DIR", str(data))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))

    def unexpected(*_: object) -> int:
        raise RuntimeError("an unexpected library failure")

    monkeypatch.setattr(cli, "COMMANDS", (Command("questions", "列出待答问题", unexpected),))
    assert cli.main(["questions"]) == 1
    err = capsys.readouterr().err
    assert "运行出错" in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and "unexpected library failure" not in err
    logs = list(temp.glob("*.log")) if temp_usable else []
    if temp_usable:
        assert len(logs) == 1 and str(logs[0]) in err
        assert "RuntimeError: an unexpected library failure" in logs[0].read_text(encoding="utf-8")
    else:
        assert "无法写入日志" in err
