"""Moving stored entities through their workflow: a compare-and-set on the status, the move recorded, and the
messages it sends queued, in the caller's one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.messages import OutboundMessage
from bot.domain.workflow import Transition, Workflow
from bot.storage.channel import queued_row
from bot.storage.models import Base, WorkflowTransitionRow

S = TypeVar("S", bound=str)
E = TypeVar("E", bound=str)


def apply_transition(
    session: Session,
    workflow: Workflow[S, E],
    row_type: type[Base],
    entity_id: int,
    event: E,
    *,
    actor: str,
    at: datetime,
    note: str = "",
    values: Mapping[str, Any] | None = None,
    messages: Sequence[OutboundMessage] = (),
) -> Transition:
    """Move row entity_id of row_type (a table with an integer id and a status column) on event, setting values
    with the new status; record the move and queue messages.

    The status is changed only where it still is the one read (UPDATE … WHERE id AND status): of two sessions
    acting at once one wins, the other gets the workflow's TransitionNotAllowed, as does a missing entity or an
    event its status does not allow. Nothing is committed here; the caller's transaction holds it all.
    """
    status = _status(session, workflow, row_type, entity_id)
    if status is None:
        raise workflow.refusal(entity_id, None, event)
    target = workflow.next(status, event, entity_id=entity_id)
    columns = row_type.__table__.c
    changed = session.execute(
        update(row_type)
        .where(columns.id == entity_id, columns.status == status)
        .values({**(values or {}), "status": target})
        .execution_options(synchronize_session=False)
    )
    if not getattr(changed, "rowcount", 0):  # settled by another session since it was read
        raise workflow.refusal(entity_id, _status(session, workflow, row_type, entity_id), event)
    transition = Transition(workflow.kind, entity_id, status, target, event, actor, at, note)
    recorded = WorkflowTransitionRow(
        kind=transition.kind,
        entity_id=entity_id,
        from_status=transition.from_status,
        to_status=transition.to_status,
        event=transition.event,
        actor=actor[:128],
        at=at,
        note=note,
    )
    session.add(recorded)
    session.flush()
    transition = replace(transition, id=recorded.id)
    # Each move is recorded once (a retry after a crash either finds it rolled back or is refused by the status
    # compare-and-set), so its messages are keyed by the recorded move and position: never queued twice, and a
    # status reached again (a petition reopened and resolved anew) gets its messages again.
    source = f"{workflow.kind}:{entity_id}"
    for n, message in enumerate(messages):
        session.add(queued_row(message, at, source=source, dedupe_key=f"{source}:move:{recorded.id}:{n}"))
    return transition


class SqlTransitions:
    """The stored history of workflow moves."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def transitions(self, kind: str, entity_id: int) -> list[Transition]:
        """Every move of one entity, oldest first."""
        query = (
            select(WorkflowTransitionRow)
            .where(WorkflowTransitionRow.kind == kind, WorkflowTransitionRow.entity_id == entity_id)
            .order_by(WorkflowTransitionRow.at, WorkflowTransitionRow.id)
        )
        with self._sessions() as session:
            return [recorded_transition(r) for r in session.scalars(query)]


def recorded_transition(row: WorkflowTransitionRow) -> Transition:
    """A stored move as the domain knows it, with its recorded number."""
    return Transition(
        row.kind, row.entity_id, row.from_status, row.to_status, row.event, row.actor, row.at, row.note, row.id
    )


def _status(session: Session, workflow: Workflow[S, E], row_type: type[Base], entity_id: int) -> S | None:
    """The entity's stored status, or None when there is no such entity."""
    columns = row_type.__table__.c
    stored = session.scalar(select(columns.status).where(columns.id == entity_id))
    return workflow.status_of(stored) if stored is not None else None
