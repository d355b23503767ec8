"""The assistant's own files on this machine (BOT_DATA_DIR: database, index, logs), and their faults told in Chinese.

Operating-system and SQLite errors on these files are translated where the files are opened, into one sentence
naming the path and what to do, so that no start-up fault reaches staff as a traceback or a library's English text.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from pathlib import Path

from bot.domain.errors import AssistantError

_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
_FULL = {errno.ENOSPC, errno.EDQUOT}
_NOT_A_DIRECTORY = {errno.ENOTDIR, errno.EEXIST}
# A store failing for no reason it names, with less than this free beside it, most likely ran out of space: a failed
# write is rolled back, so a little space is free again by the time the directory is looked at.
LOW_SPACE_BYTES = 64 * 1024 * 1024
# SQLite primary result codes (the low byte of an extended code)
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 10, 11, 13, 14, 26


class LocalStateError(AssistantError):
    """A directory or file of the assistant's local state cannot be used; the message names it and what to do."""


def prepare_directory(path: Path, what: str = "数据目录") -> None:
    """Create directory path if needed and check that a file can be written in it; LocalStateError if not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalStateError(os_error_message(path, exc, what)) from exc
    problem = write_problem(path, what)
    if problem is not None:
        raise LocalStateError(problem)


def write_problem(path: Path, what: str = "数据目录") -> str | None:
    """Why a small file cannot be written (and synced) in directory path, in Chinese; None when it can."""
    probe = path / f".write-check-{uuid.uuid4().hex}"
    try:
        descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, b"\0" * 4096)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except OSError as exc:
        return os_error_message(path, exc, what)
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return None


def os_error_message(path: Path, exc: OSError, what: str = "数据目录") -> str:
    """One Chinese sentence for an OS error met using path (what names its role): what is wrong and what to do."""
    shown = path.absolute()
    code = exc.errno
    if code in _NOT_A_DIRECTORY:
        blocker = _file_in_the_way(shown)
        if blocker == shown:
            return f"{what} {shown} 是一个文件，不是目录；请把这个文件移走，或用 BOT_DATA_DIR 指定另一个目录。"
        return (
            f"{what} {shown} 无法创建，因为 {blocker} 是一个文件，不是目录；"
            "请把这个文件移走，或用 BOT_DATA_DIR 指定另一个目录。"
        )
    if code in _NOT_WRITABLE:
        return (
            f"{what} {shown} 不能写入（没有写权限，或所在的文件系统是只读的）；"
            "请让运行助手的用户可以写入它，或用 BOT_DATA_DIR 指定一个可写的目录。"
        )
    if code in _FULL:
        return f"{what} {shown} 所在的磁盘已满；请清理出空间后再试。"
    name = errno.errorcode.get(code, str(code)) if code is not None else "未知"
    return f"无法使用{what} {shown}（系统错误 {name}）；请检查这个目录和它所在的磁盘。"


def store_problem(path: Path, sqlite_code: int | None, *, what: str, damaged: str) -> str:
    """Why a SQLite-backed store at path (a file or a directory; what names it) failed, in Chinese.

    sqlite_code is the SQLite result code when the library reported one; damaged is the sentence to give when
    the store itself is broken (each store has its own remedy). Without a code, the directory is tried first:
    a full (or nearly full) disk or a read-only directory is told as such, anything else as damage.
    """
    directory, shown = (path if path.is_dir() else path.parent), path.absolute()
    where = what if directory == path else f"{what}所在的目录"
    primary = sqlite_code & 0xFF if sqlite_code is not None else None
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return damaged
    if primary == _SQLITE_FULL:
        return f"{what} {shown} 所在的磁盘已满；请清理出空间后再试。"
    if primary in (_SQLITE_READONLY, _SQLITE_PERM, _SQLITE_CANTOPEN):
        return write_problem(directory, where) or (
            f"无法打开或写入{what} {shown}；请检查它和所在目录的权限（运行助手的用户要能读写它们）。"
        )
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return f"{what} {shown} 正被另一个进程锁住；请确认没有另一个助手在用它，然后再试。"
    if primary == _SQLITE_IOERR:
        return _directory_problem(directory, where) or f"读写{what} {shown} 时磁盘出错；请检查磁盘，然后再试。"
    return _directory_problem(directory, where) or damaged


def _directory_problem(directory: Path, what: str) -> str | None:
    """A fault of the directory holding a store (not writable, full, nearly full), in Chinese; None if none."""
    problem = write_problem(directory, what)
    if problem is not None:
        return problem
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        return None
    if free < LOW_SPACE_BYTES:
        left = f"{free / 1024 / 1024:.1f} MB"
        return f"{what} {directory.absolute()} 所在的磁盘快满了（只剩 {left}），数据写不进去；请清理出空间后再试。"
    return None


def _file_in_the_way(path: Path) -> Path:
    """The first component of path, from the root down, that exists but is not a directory (path if none)."""
    for part in (*reversed(path.parents), path):
        if part.exists() and not part.is_dir():
            return part
    return path
