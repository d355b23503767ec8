"""Petition cases written straight into the database, with the times a test or a benchmark needs (filed days ago,
resolved after so many hours, past their deadline …), in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from bot.storage.models import PetitionRow, WorkflowTransitionRow


def petition_values(
    number: str,
    *,
    created_at: datetime,
    group_id: str,
    group_name: str = "",
    display_name: str = "李阿姨",
    category: str = "设施维修",
    description: str = "3号楼电梯坏了",
    status: str = "submitted",
    resolved_at: datetime | None = None,
    due_at: datetime | None = None,
    department: str = "",
    rating: str = "",
    note: str = "",
    urgency: str = "normal",
    location: str = "3号楼",
    user_id: str = "",
) -> dict[str, Any]:
    """The columns of one case (origin and user id derived from its number unless given)."""
    return {
        "number": number,
        "category": category,
        "description": description,
        "location": location,
        "channel": "wechat",
        "group_id": group_id,
        "group_name": group_name,
        "user_id": user_id or f"wxid_{number}",
        "display_name": display_name,
        "urgency": urgency,
        "status": status,
        "created_at": created_at,
        "updated_at": resolved_at or created_at,
        "resolved_at": resolved_at,
        "due_at": due_at,
        "location_asked_at": None,
        "department": department,
        "handler": "",
        "rating": rating,
        "note": note,
        "origin": f"origin-{number}",
    }


def insert_petitions(
    sessions: sessionmaker[Session],
    cases: Sequence[dict[str, Any]],
    transitions: Sequence[dict[str, Any]] = (),
    *,
    chunk: int = 5000,
) -> None:
    """Insert cases (and workflow transition rows) in chunks of executemany, in one transaction."""
    with sessions.begin() as session:
        for start in range(0, len(cases), chunk):
            session.execute(insert(PetitionRow), list(cases[start : start + chunk]))
        for start in range(0, len(transitions), chunk):
            session.execute(insert(WorkflowTransitionRow), list(transitions[start : start + chunk]))
