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
