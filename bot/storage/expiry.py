"""Repository of the expiry register (到期提醒): items staff add, edit, renew, retire and import from sheets, and the
reminders sent for them (the item's last reminder compared-and-set with the messages queued, in one transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.domain.expiry import ExpiryError, ExpiryItem, ImportCounts, ItemDraft, ItemNotFoundError
from bot.domain.messages import OutboundMessage
from bot.domain.outbox import SendPriority
from bot.storage.channel import queue_once
from bot.storage.models import ExpiryItemRow

_SAME_ITEM = "同一社区里已有同类型、同名称的一项，请改名称或直接修改那一项"


class SqlExpiryRegister:
    """The expiry register's items and their reminders."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, draft: ItemDraft, *, by: str, now: datetime) -> ExpiryItem:
        """A new item; ExpiryError when the community already has one of that kind and name."""
        try:
            with self._sessions.begin() as session:
                row = ExpiryItemRow(retired=False, last_reminder="", renewed_on=None, reminded_on=None)
                _fill(row, draft, by=by, now=now)
                session.add(row)
                session.flush()
                return _item(row)
        except IntegrityError:
            raise ExpiryError(_SAME_ITEM) from None

    def get(self, item_id: int) -> ExpiryItem | None:
        """One item by id."""
        with self._sessions() as session:
            row = session.get(ExpiryItemRow, item_id)
            return _item(row) if row is not None else None

    def listed(self, *, community: str | None) -> list[ExpiryItem]:
        """Every item (one community's if given), the earliest due date first."""
        query = select(ExpiryItemRow).order_by(ExpiryItemRow.due, ExpiryItemRow.id)
        if community is not None:
            query = query.where(ExpiryItemRow.community == community)
        with self._sessions() as session:
            return [_item(row) for row in session.scalars(query)]

    def edit(self, item_id: int, draft: ItemDraft, *, today: date, by: str, now: datetime) -> ExpiryItem:
        """Change an item's fields (a later due date counts as renewed today, as in an import); ItemNotFoundError
        for an unknown item, ExpiryError when the new kind and name are another item's."""
        try:
            with self._sessions.begin() as session:
                row = session.get(ExpiryItemRow, item_id)
                if row is None:
                    raise ItemNotFoundError("没有找到这一项，可能已被删除")
                if draft.due > row.due:
                    row.renewed_on = today
                _fill(row, draft, by=by, now=now)
                session.flush()
                return _item(row)
        except IntegrityError:
            raise ExpiryError(_SAME_ITEM) from None

    def renew(self, item_id: int, due: date, *, on: date, by: str, now: datetime) -> ExpiryItem | None:
        """Move an item's due date on (renewed on the local day on); None for an unknown item."""
        with self._sessions.begin() as session:
            row = session.get(ExpiryItemRow, item_id)
            if row is None:
                return None
            row.due, row.renewed_on, row.retired, row.updated_by, row.updated_at = due, on, False, by[:128], now
            session.flush()
            return _item(row)

    def retire(self, item_id: int, *, by: str, now: datetime) -> bool:
        """Stop keeping an item (never reminded again); False if it was retired already or unknown."""
        with self._sessions.begin() as session:
            done = session.execute(
                update(ExpiryItemRow)
                .where(ExpiryItemRow.id == item_id, ExpiryItemRow.retired.is_(False))
                .values(retired=True, updated_by=by[:128], updated_at=now)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(done, "rowcount", 0))

    def import_drafts(self, drafts: Sequence[ItemDraft], *, today: date, by: str, now: datetime) -> ImportCounts:
        """Save a sheet's checked rows in one transaction: a new item for an identity (community, kind, name) not
        registered yet, else that item updated (a later due date counts as renewed today; a retired item stays
        retired). The counts of created, updated and unchanged items."""
        created = updated = unchanged = 0
        try:
            with self._sessions.begin() as session:
                for draft in drafts:
                    row = session.scalars(
                        select(ExpiryItemRow).where(
                            ExpiryItemRow.community == draft.community,
                            ExpiryItemRow.kind == draft.kind,
                            ExpiryItemRow.what == draft.what,
                        )
                    ).one_or_none()
                    if row is None:
                        row = ExpiryItemRow(retired=False, last_reminder="", renewed_on=None, reminded_on=None)
                        _fill(row, draft, by=by, now=now)
                        session.add(row)
                        created += 1
                    elif _draft_of(row) == draft:
                        unchanged += 1
                    else:
                        if draft.due > row.due:
                            row.renewed_on = today
                        _fill(row, draft, by=by, now=now)
                        updated += 1
                session.flush()
        except IntegrityError:  # another import added the same item at the same moment
            raise ExpiryError("另一次导入正在进行，请稍后重新导入（已导入的不会重复）") from None
        return ImportCounts(created, updated, unchanged)

    def due_by(self, last_day: date, *, limit: int) -> list[ExpiryItem]:
        """Items kept (not retired) due on or before last_day, the earliest first, at most limit."""
        query = (
            select(ExpiryItemRow)
            .where(ExpiryItemRow.retired.is_(False), ExpiryItemRow.due <= last_day)
            .order_by(ExpiryItemRow.due, ExpiryItemRow.id)
            .limit(limit)
        )
        with self._sessions() as session:
            return [_item(row) for row in session.scalars(query)]

    def remind(self, item_id: int, key: str, *, on: date, at: datetime, messages: Sequence[OutboundMessage]) -> bool:
        """Send one reminder of an item once: keep key ("2026-12-01:before7") as its last reminder, sent on the local
        day on, and queue messages, in one transaction; False, nothing queued, when it was the last one already."""
        source = f"expiry:{item_id}"
        claim = (
            update(ExpiryItemRow)
            .where(ExpiryItemRow.id == item_id, ExpiryItemRow.last_reminder != key)
            .values(last_reminder=key[:40], reminded_on=on)
        )
        prefix = f"{source}:{key}"  # reminders are bulk sending: answers to residents go first
        return queue_once(
            self._sessions, claim, messages, at=at, source=source, dedupe_prefix=prefix, priority=SendPriority.BULK
        )


def _fill(row: ExpiryItemRow, draft: ItemDraft, *, by: str, now: datetime) -> None:
    row.community, row.kind, row.what = draft.community, draft.kind, draft.what
    row.owner, row.contact, row.phone = draft.owner, draft.contact, draft.phone
    row.due, row.notes, row.updated_by, row.updated_at = draft.due, draft.notes, by[:128], now


def _draft_of(row: ExpiryItemRow) -> ItemDraft:
    return ItemDraft(row.community, row.kind, row.what, row.owner, row.contact, row.phone, row.due, row.notes)


def _item(row: ExpiryItemRow) -> ExpiryItem:
    return ExpiryItem(
        id=row.id,
        community=row.community,
        kind=row.kind,
        what=row.what,
        owner=row.owner,
        contact=row.contact,
        phone=row.phone,
        due=row.due,
        notes=row.notes,
        renewed_on=row.renewed_on,
        retired=row.retired,
        last_reminder=row.last_reminder,
        reminded_on=row.reminded_on,
        updated_at=row.updated_at,
    )
