"""What the command line does with a failure it did not expect: one Chinese line on screen, the traceback in a file."""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from bot.config import Settings


def report_unexpected(settings: Settings, exc: Exception) -> None:
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
    record = f"{datetime.now().isoformat(sep=' ', timespec='seconds')} ERROR command failed\n" + "".join(
        traceback.format_exception(exc)
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


def validation_message(exc: ValidationError) -> str:
    """A settings validation error in one line: which setting, what is wrong."""
    return "；".join(f"{'.'.join(str(p) for p in e['loc']) or '设置'}: {e['msg']}" for e in exc.errors())
