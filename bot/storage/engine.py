"""Engines and sessions, built from a URL by the composition root (no module-level engine); schema by migration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.errors import AssistantError
from bot.local_state import prepare_directory, store_problem

MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseUnavailableError(AssistantError):
    """The database cannot be opened or brought up to date; the message names it and what to do, in Chinese."""


def make_engine(url: str) -> Engine:
    """An engine for SQLite (file created on demand, WAL, foreign keys) or PostgreSQL (psycopg). Statement
    parameters are left out of error messages: they carry residents' text into logs."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            prepare_directory(Path(parsed.database).parent, "数据库所在目录")
        engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: a killed process loses nothing (the
            # operating system holds the log); only a power cut can roll back the last commits, never corrupt.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def head_revision() -> str:
    """The newest migration's revision id."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent); DatabaseUnavailableError, in Chinese, when the
    database cannot be opened, is damaged or was made by a newer version."""
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except DBAPIError as exc:
        raise DatabaseUnavailableError(database_problem(engine.url, exc)) from exc
    except CommandError as exc:  # a revision this program does not know: the database is newer than the program
        raise DatabaseUnavailableError(
            f"数据库 {_shown(engine.url)} 的结构版本本程序不认识（可能由更新版本的助手建立）；"
            "请换用对应版本的助手，或从备份恢复数据库。"
        ) from exc


def database_problem(url: URL, exc: DBAPIError) -> str:
    """Why the database at url cannot be used, in Chinese: a SQLite file's fault with its remedy, or a server
    that cannot be reached."""
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database).absolute()
        damaged = (
            f"数据库文件 {path} 已损坏，无法读取；请从备份恢复这个文件，或把它（连同同名的 -wal、-shm 文件）"
            "移到别处后重新启动，助手会新建一个空的数据库。"
        )
        code = getattr(exc.orig, "sqlite_errorcode", None)
        return store_problem(path, code, what="数据库文件", damaged=damaged)
    return f"无法使用数据库 {_shown(url)}；请确认数据库服务已经启动，并且 BOT_DATABASE_URL 填写正确。"


def _shown(url: URL) -> str:
    if url.get_backend_name() == "sqlite" and url.database:
        return str(Path(url.database).absolute())
    return url.render_as_string(hide_password=True)
