"""The migrations build exactly the schema the models describe, on both databases (a drift between a model and its
migration would otherwise surface only on a production database)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.orm import Session, sessionmaker

from bot.scheduling import JOB_TABLE
from bot.storage.models import Base


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """APScheduler's own job table is created by a migration but described by APScheduler, not by our models."""
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return getattr(table, "name", name) != JOB_TABLE


def test_the_migrated_schema_is_the_models_schema(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        context = MigrationContext.configure(session.connection(), opts={"compare_type": True, "include_object": _ours})
        assert compare_metadata(context, Base.metadata) == []
