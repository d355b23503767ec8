"""Protocols the core depends on; concrete classes are chosen in the composition root (bot/app.py)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Protocol, runtime_checkable

from bot.domain.conversation import ActivityScope, ConversationTurn
from bot.domain.door_codes import Admission, DoorCode, SubmissionLimits
from bot.domain.elderly import BirthMonth, ElderlyResident, RegisterLine, ReminderBatch
from bot.domain.escalation import Asker, EmbeddingRow, QuestionStatus, UnansweredQuestion
from bot.domain.expiry import ExpiryItem, ImportCounts, ItemDraft
from bot.domain.groups import GroupConfig
from bot.domain.messages import OutboundMessage, TriggerMode
from bot.domain.notices import Notice, NoticeDraft, NoticeEvent, NoticeRun, NoticeStatus
from bot.domain.open311 import ApiKey, CaseMove, ExternalUpdate
from bot.domain.outbox import Delivery, ExpiredLeases, Membership, QueuedMessage, SendPriority
from bot.domain.petitions import (
    BoardFilter,
    Filing,
    Petition,
    PetitionDraft,
    PetitionEvent,
    PetitionStatus,
    Receipt,
    Recognition,
    RepliesFor,
)
from bot.domain.photos import CasePhoto, Photo, PhotoSource
from bot.domain.routing import Department, Route
from bot.domain.staff import AuditEntry, StaffProfile, StaffUser, StoredSession
from bot.domain.workflow import Transition


class Clock(Protocol):
    """The current time (a fake in tests)."""

    def now(self) -> datetime:
        """Timezone-aware now."""


class TurnLog(Protocol):
    """Where every handled message is recorded."""

    def record(self, turn: ConversationTurn) -> None:
        """Store one turn."""

    def recent(self, limit: int) -> Sequence[ConversationTurn]:
        """The newest turns, newest first."""

    def last_question(self, *, group_id: str, user_id: str, since: datetime) -> str | None:
        """The newest question one resident asked in one group (or privately) since a time, small talk aside."""


class ActivityLog(Protocol):
    """What the dashboard counts over the recorded turns."""

    def count_answered(self, start: datetime, end: datetime, scope: ActivityScope) -> tuple[int, int]:
        """(answered, all) turns between two times."""

    def busiest_groups(self, since: datetime, scope: ActivityScope, *, limit: int) -> list[tuple[str, int]]:
        """(group id, turns) of the groups with the most turns since a time."""

    def most_answered_entries(self, since: datetime, scope: ActivityScope, *, limit: int) -> list[tuple[str, int]]:
        """(entry id, answers) of the knowledge entries answered most since a time."""


class GroupDirectory(Protocol):
    """The chat groups the assistant has seen and how it answers in each."""

    def get_or_register(self, *, group_id: str, channel: str, name: str, now: datetime) -> GroupConfig:
        """The group's configuration, registering it (and keeping its name current) on first sight."""

    def get(self, group_id: str) -> GroupConfig | None:
        """One group's configuration, if it was ever seen."""

    def all(self, *, community: str | None = None) -> list[GroupConfig]:
        """Every known group (only one community's if given)."""

    def update(
        self,
        group_id: str,
        *,
        now: datetime,
        enabled: bool | None = None,
        trigger: TriggerMode | None = None,
        keywords: tuple[str, ...] | None = None,
        community: str | None = None,
        welcome_enabled: bool | None = None,
        welcome_text: str | None = None,
        tags: tuple[str, ...] | None = None,
    ) -> GroupConfig:
        """Staff change a group's settings (only the ones given); KeyError for an unknown group."""

    def name_of(self, group_id: str) -> str:
        """A group's name as WeChat shows it (its id if it has none or is unknown)."""

    def community_of(self, group_id: str) -> str:
        """The community a group belongs to (private chats: the default community)."""


class StaffAccountStore(Protocol):
    """Console accounts and their signed-in sessions."""

    def create(
        self, *, username: str, profile: StaffProfile, password_hash: str, must_change_password: bool, now: datetime
    ) -> StaffUser:
        """A new active account; UsernameTakenError if the name is in use."""

    def credentials(self, username: str) -> tuple[StaffUser, str] | None:
        """An account and its password hash, by username."""

    def password_hash(self, user_id: int) -> str:
        """An account's password hash."""

    def get(self, user_id: int) -> StaffUser | None:
        """One account."""

    def all(self) -> list[StaffUser]:
        """Every account."""

    def count_active_admins(self) -> int:
        """How many active admins there are."""

    def update(self, user_id: int, *, profile: StaffProfile, active: bool) -> StaffUser:
        """Change an account's profile (a deactivated account loses its sessions)."""

    def set_password(
        self, user_id: int, password_hash: str, *, must_change: bool, now: datetime, keep_session: str = ""
    ) -> None:
        """Store a new hash and end every other session of the account."""

    def open_session(
        self, *, token_hash: str, user_id: int, csrf_token: str, now: datetime, expires_at: datetime, ip: str
    ) -> None:
        """Record a new signed-in browser."""

    def find_session(self, token_hash: str, *, now: datetime) -> StoredSession | None:
        """The unexpired session with that token hash, if its account is active."""

    def close_session(self, token_hash: str) -> None:
        """Sign a browser out."""


class GroupAccounts(Protocol):
    """Which bot account is in which group, as the accounts tell."""

    def record(self, membership: Membership, *, now: datetime) -> None:
        """Apply what an account told about its groups (its whole list, groups seen, or groups left)."""


class Outbox(Protocol):
    """Messages waiting to be sent, with the ledger of handled inbound messages; every insert is deduplicated."""

    def seen(self, message_id: str) -> bool:
        """Whether this platform message was already handled."""

    def complete(self, message_id: str, replies: list[OutboundMessage], *, now: datetime, outcome: str = "") -> bool:
        """Mark a message handled and queue its replies atomically; False if another delivery got there first."""

    def enqueue(
        self,
        message: OutboundMessage,
        *,
        now: datetime,
        source: str,
        dedupe_key: str | None = None,
        priority: SendPriority = SendPriority.NORMAL,
    ) -> bool:
        """Queue a message that answers no inbound message; False if the same dedupe key was queued before."""

    def claim_due(
        self,
        *,
        now: datetime,
        limit: int,
        owner: str,
        lease: timedelta,
        channel: str | None = None,
        account: str | None = None,
    ) -> list[QueuedMessage]:
        """Claim due messages (of one channel, and that one bot account can send, when given) for one sender until
        now + lease; a row is never claimed by two senders."""

    def more_urgent_due(
        self, priority: SendPriority, *, now: datetime, channel: str | None = None, account: str | None = None
    ) -> bool:
        """Whether a message more urgent than priority is due (of the channel, and for the account, when given)."""

    def release(self, entry_ids: Sequence[int], owner: str) -> int:
        """Give back owner's claims not yet being sent; how many were given back."""

    def start_send(self, entry_id: int, owner: str, *, now: datetime, lease: timedelta) -> bool:
        """Right before the gateway call: the claimed entry becomes sending; False if owner no longer holds it."""

    def mark_sent(self, entry_id: int, owner: str, *, now: datetime) -> bool:
        """The gateway took the message."""

    def mark_failed(self, entry_id: int, owner: str, reason: str, *, retry_at: datetime | None) -> bool:
        """A send failed: queued again at retry_at, or failed for good (None), keeping the reason for staff."""

    def recover_expired(self, *, now: datetime) -> ExpiredLeases:
        """Claims whose lease ran out go back to the queue; sends whose lease ran out become unconfirmed."""


class UnansweredQuestions(Protocol):
    """The queue of questions handed to a person, their askers, and the embeddings near-duplicates are found by."""

    def create(
        self,
        *,
        question: str,
        asker: Asker,
        urgent: bool,
        reason: str,
        candidates: Sequence[str],
        now: datetime,
        community: str = "",
        vector: bytes | None = None,
        vector_model: str = "",
    ) -> UnansweredQuestion:
        """A new open question with its first asker."""

    def join(self, question_id: int, asker: Asker, *, urgent: bool) -> UnansweredQuestion:
        """Another resident asks the same open question."""

    def asked_by(self, origin: str) -> UnansweredQuestion | None:
        """The question an inbound message (part) already asked or joined, if it did."""

    def get(self, question_id: int) -> UnansweredQuestion | None:
        """One question by its number."""

    def listed(self, *, community: str | None, status: QuestionStatus, limit: int | None) -> list[UnansweredQuestion]:
        """Questions in one status (only one community's if given)."""

    def count(self, *, community: str | None, status: QuestionStatus) -> int:
        """How many questions are in one status."""

    def due_for_reminder(self, *, now: datetime, older_than: timedelta) -> list[UnansweredQuestion]:
        """Open questions waiting (or last reminded) more than older_than ago; marks them reminded now."""

    def answer(
        self, question_id: int, *, answer: str, by: str, now: datetime, replies: Sequence[OutboundMessage]
    ) -> UnansweredQuestion:
        """Answer an open question and queue the replies to its askers, atomically (a workflow move)."""

    def close(
        self, question_id: int, *, note: str, by: str, now: datetime, replies: Sequence[OutboundMessage] = ()
    ) -> UnansweredQuestion:
        """Close an open question without answering it (a workflow move)."""

    def open_numbers(self, *, community: str) -> list[int]:
        """The numbers of one community's open questions, oldest first."""

    def queued_after(self, number: int, *, model: str, limit: int) -> list[EmbeddingRow]:
        """The embedding rows of open questions numbered after number."""

    def vectors(self, numbers: Sequence[int], *, model: str) -> list[EmbeddingRow]:
        """The embedding rows of the given questions."""

    def keep_vectors(self, vectors: Mapping[int, bytes], *, model: str) -> None:
        """Store embeddings made later for questions queued without one."""


class PetitionClassifier(Protocol):
    """Tells whether a resident's message is a petition: said as one ("报事 …"), a complaint that may be one (the
    resident is asked to confirm), or neither; with its category and the text without the trigger."""

    def recognise(self, text: str) -> Recognition:
        """The verdict on one message's text (mentions and keyword prefixes already taken off)."""


class PetitionRefiner(Protocol):
    """Reads a petition's fields (category, place, urgency) from its masked text with a model; any failure gives the
    draft back unchanged."""

    def refine(self, draft: PetitionDraft) -> PetitionDraft:
        """The draft with the fields the model read and validated, or the draft itself."""


class PetitionStore(Protocol):
    """Petition cases and the complaints waiting for a resident's confirmation; each step that answers an inbound
    message marks it handled and queues its replies in the step's own transaction."""

    def file(
        self,
        draft: PetitionDraft,
        *,
        year: int,
        now: datetime,
        receipt: Receipt | None = None,
        replies: RepliesFor | None = None,
        notices: RepliesFor | None = None,
        route: Route | None = None,
    ) -> Filing:
        """A new case numbered in year (or the one draft's origin already made), the receipt's message handled with
        replies(case), notices(case) queued once for a new case, and draft's pending confirmation dropped, in one
        transaction; a new case due by the deadline of its category's route in force then (route: the default)."""

    def get(self, number: str) -> Petition | None:
        """One case by its number."""

    def by_origin(self, origin: str) -> Petition | None:
        """The case an inbound message (or an Open311 request) made, if any."""

    def of_reporter(
        self, channel: str, user_id: str, *, group_id: str | None, open_only: bool, limit: int
    ) -> list[Petition]:
        """One resident's cases (only one group's if given; only unsettled ones if open_only), newest first."""

    def move(
        self,
        petition_id: int,
        event: PetitionEvent,
        *,
        actor: str,
        at: datetime,
        note: str = "",
        values: Mapping[str, object] | None = None,
        messages: Sequence[OutboundMessage] = (),
        receipt: Receipt | None = None,
        external: ExternalUpdate | None = None,
    ) -> Petition:
        """A workflow move with its messages queued, and the receipt's message marked handled (an outside system's
        update kept with it), in the same transaction (PetitionMoveRefused if not allowed; UpdateAlreadyRecorded
        for an update recorded before)."""

    def recorded_update(self, update: ExternalUpdate) -> int | None:
        """The number of the move an outside system's update made, if it was recorded."""

    def hold_photo(
        self, draft: PetitionDraft, photo: Photo, content: bytes, *, now: datetime, limit: int
    ) -> int | None:
        """Keep a picture with a complaint draft waiting for confirmation: its place (None: no longer waiting;
        PhotoRefusedError past limit)."""

    def pending_photos(self, draft: PetitionDraft) -> list[tuple[Photo, bytes]]:
        """The pictures kept with a complaint draft, in the order they came."""

    def escalate(
        self,
        petition_id: int,
        *,
        actor: str,
        at: datetime,
        note: str,
        messages: Sequence[OutboundMessage],
        once: bool = False,
    ) -> Petition | None:
        """An escalation recorded (status kept), the case marked escalated and messages queued in one transaction;
        with once, None for a case escalated before."""

    def remind(self, petition_id: int, key: str, *, at: datetime, messages: Sequence[OutboundMessage]) -> bool:
        """A deadline reminder kept as the case's last and its messages queued, in one transaction; False when that
        reminder was the last one already."""

    def due_before(self, cutoff: datetime, *, limit: int) -> list[Petition]:
        """Cases still running whose deadline is before cutoff, the earliest first."""

    def board(self, shown: BoardFilter, *, offset: int, limit: int) -> list[Petition]:
        """The cases a board filter matches, newest first."""

    def counts(self, shown: BoardFilter) -> dict[PetitionStatus, int]:
        """How many cases the filter matches in each status (its own status ignored)."""

    def history(self, petition_id: int) -> list[Transition]:
        """Every move of one case, oldest first."""

    def matching(
        self,
        shown: BoardFilter,
        *,
        numbers: Sequence[str] = (),
        statuses: Collection[PetitionStatus] = (),
        created_from: datetime | None = None,
        created_until: datetime | None = None,
        offset: int = 0,
        limit: int,
    ) -> list[Petition]:
        """The cases a filter matches (its status ignored), narrowed to the numbers, statuses and filing times given,
        newest first."""

    def moves_since(
        self, shown: BoardFilter, *, since: datetime, until: datetime | None = None, limit: int
    ) -> list[CaseMove]:
        """The recorded moves of the cases a filter matches made after since (up to until), oldest first."""

    def resolved_before(self, cutoff: datetime, *, limit: int) -> list[Petition]:
        """Cases resolved before cutoff and still waiting for the resident's answer, oldest first."""

    def hold(
        self,
        draft: PetitionDraft,
        *,
        now: datetime,
        expires_at: datetime,
        receipt: Receipt,
        replies: Sequence[OutboundMessage],
    ) -> bool:
        """Keep draft for the resident to confirm, their message handled with replies; False if handled before."""

    def pending(self, channel: str, group_id: str, user_id: str, *, now: datetime) -> PetitionDraft | None:
        """The unexpired complaint this resident (in this group) was asked to confirm."""

    def drop_pending(self, channel: str, group_id: str, user_id: str) -> bool:
        """Forget the complaint this resident was asked to confirm; False if there was none."""

    def awaiting_location(self, channel: str, group_id: str, user_id: str, *, since: datetime) -> Petition | None:
        """The resident's newest case in this group whose location was asked for since a time and not yet given."""

    def locate(
        self, petition_id: int, location: str, *, now: datetime, receipt: Receipt, replies: Sequence[OutboundMessage]
    ) -> bool:
        """Keep a case's location, the receipt's message handled with replies; False if handled before."""


class ApiKeyStore(Protocol):
    """The API keys outside systems post Open311 requests with, stored by hash."""

    def create(self, *, name: str, key_hash: str, community: str, created_by: str, now: datetime) -> ApiKey:
        """Store a new key by its hash."""

    def all(self) -> list[ApiKey]:
        """Every key ever issued, newest first."""

    def find(self, key_hash: str) -> ApiKey | None:
        """The unrevoked key with that hash."""

    def revoke(self, key_id: int, *, now: datetime) -> ApiKey | None:
        """Revoke a key; None for an unknown key."""

    def used(self, key_id: int, *, now: datetime) -> None:
        """Note that a key was just used."""


class RouteStore(Protocol):
    """The routes staff set per category (over the category file's defaults) and the departments directory."""

    def edited_routes(self) -> dict[str, Route]:
        """Every route staff set, by category."""

    def route(self, default: Route) -> Route:
        """The route in force for default's category: the one staff set, else default."""

    def save_route(self, route: Route, *, by: str, now: datetime) -> None:
        """Keep route for its category, with who set it and when."""

    def reset_route(self, category: str) -> bool:
        """Forget what staff set for category; False if nothing was."""

    def departments(self) -> list[Department]:
        """Every department, by name."""

    def department(self, name: str) -> Department | None:
        """One department by name."""

    def save_department(self, department: Department, *, now: datetime) -> None:
        """Add department, or change the one of that name."""

    def remove_department(self, name: str) -> bool:
        """Remove a department; False if there was none."""


class PhotoStore(Protocol):
    """The photos attached to petitions: their rows and their files (one per content hash)."""

    def attach(
        self, petition_id: int, photo: Photo, content: bytes, *, source: PhotoSource, now: datetime, limit: int
    ) -> CasePhoto:
        """Keep content on the case (the same picture twice is kept once); PhotoRefusedError past limit photos."""

    def of_case(self, petition_id: int) -> list[CasePhoto]:
        """The photos of one case, oldest first."""

    def content(self, photo: Photo) -> bytes:
        """The stored JPEG of a photo."""


class DoorCodeStore(Protocol):
    """门牌码 and the petitions filed from their page (counted for the rate limits)."""

    def create(
        self, places: Sequence[tuple[str, str]], *, community: str, created_by: str, now: datetime
    ) -> list[DoorCode]:
        """New active codes, one per (token, place)."""

    def by_token(self, token: str) -> DoorCode | None:
        """The code with that token, active or not."""

    def get(self, code_id: int) -> DoorCode | None:
        """One code by its id."""

    def listed(self, *, community: str | None, active_only: bool) -> list[DoorCode]:
        """Codes (one community's if given), in the order they were made."""

    def deactivate(self, code_id: int) -> bool:
        """Switch a code off; False if it was off already or unknown."""

    def admit(self, code_id: int, *, device: str, address: str, at: datetime, limits: SubmissionLimits) -> Admission:
        """Reserve a slot for one submission unless it would pass a limit (counted so that processes agree)."""

    def settle(self, submission_id: int, number: str) -> None:
        """Note the case a reserved slot made."""

    def withdraw(self, submission_id: int) -> None:
        """Give a reserved slot back (nothing was filed with it)."""


class ExpiryStore(Protocol):
    """The expiry register (到期提醒): items with a due date, and the reminders sent for them."""

    def add(self, draft: ItemDraft, *, by: str, now: datetime) -> ExpiryItem:
        """A new item; ExpiryError when the community already has one of that kind and name."""

    def get(self, item_id: int) -> ExpiryItem | None:
        """One item by id."""

    def listed(self, *, community: str | None) -> list[ExpiryItem]:
        """Every item (one community's if given), the earliest due date first."""

    def edit(self, item_id: int, draft: ItemDraft, *, today: date, by: str, now: datetime) -> ExpiryItem:
        """Change an item's fields (a later due date counts as renewed today)."""

    def renew(self, item_id: int, due: date, *, on: date, by: str, now: datetime) -> ExpiryItem | None:
        """Move an item's due date on; None for an unknown item."""

    def retire(self, item_id: int, *, by: str, now: datetime) -> bool:
        """Stop keeping an item; False if it was retired already or unknown."""

    def import_drafts(self, drafts: Sequence[ItemDraft], *, today: date, by: str, now: datetime) -> ImportCounts:
        """Save a sheet's checked rows in one transaction, updating the items they name rather than copying them."""

    def due_by(self, last_day: date, *, limit: int) -> list[ExpiryItem]:
        """Items kept due on or before last_day, the earliest first."""

    def remind(self, item_id: int, key: str, *, on: date, at: datetime, messages: Sequence[OutboundMessage]) -> bool:
        """Keep key as the item's last reminder (sent on the local day on) and queue messages, once; False when it
        was sent already."""


class ElderlyRegisterStore(Protocol):
    """The elderly subsidy register: residents per community and their reminder state."""

    def import_lines(self, lines: Sequence[RegisterLine], *, community: str, now: datetime) -> tuple[int, int, int]:
        """Add new lines, update the family contact of known ones; (added, updated, unchanged)."""

    def add(self, line: RegisterLine, *, community: str, now: datetime) -> ElderlyResident:
        """One new resident; RegisterError when already registered."""

    def edit(self, resident_id: int, line: RegisterLine, *, now: datetime) -> ElderlyResident | None:
        """Replace a resident's line (a changed birth month clears the reminder state); None when gone."""

    def delete(self, resident_id: int) -> bool:
        """Remove a resident; False when already gone."""

    def get(self, resident_id: int) -> ElderlyResident | None:
        """One resident by id."""

    def listed(self, *, community: str | None) -> list[ElderlyResident]:
        """The register (one community's if given), the oldest first."""

    def unreminded(self, *, born_by: BirthMonth, age: int) -> list[ElderlyResident]:
        """Residents born by born_by not yet reminded for age."""

    def remind(self, batch: ReminderBatch, *, now: datetime) -> bool:
        """Mark a batch reminded and queue its messages at once; False when nothing was stored."""


class PetitionStatistics(Protocol):
    """The petitions read in bulk, each within a board filter's scope: in batches for the export, and counted for
    the dashboard's figures."""

    def in_batches(self, shown: BoardFilter, *, size: int) -> Iterator[list[Petition]]:
        """Every case shown matches (its status too), in filing order, size at a time (keyset-paginated)."""

    def filed_per_day(self, starts: Sequence[datetime], shown: BoardFilter) -> list[int]:
        """Cases filed between each start and the next (one count fewer than starts)."""

    def filed_totals(self, start: datetime, end: datetime, shown: BoardFilter) -> dict[tuple[str, str], int]:
        """(status, category) → cases filed between two times."""

    def close_durations(self, since: datetime, shown: BoardFilter) -> list[timedelta]:
        """Filing to resolution of each case resolved since a time (resolved or closed now)."""

    def deadlines(self, now: datetime, shown: BoardFilter) -> tuple[int, int]:
        """(open cases past their deadline at now, open cases with a deadline)."""

    def ratings(self, since: datetime, shown: BoardFilter) -> dict[str, int]:
        """Rating ("" when none was given) → cases resolved since a time and closed."""


class AuditLog(Protocol):
    """The append-only record of staff actions."""

    def record(
        self,
        *,
        at: datetime,
        actor: str,
        role: str,
        action: str,
        target: str = "",
        detail: str = "",
        community: str = "",
        ip: str = "",
    ) -> None:
        """Append one entry."""

    def entries(self, *, limit: int, offset: int = 0, actor: str = "", action: str = "") -> list[AuditEntry]:
        """Newest first, optionally only one actor's or one action's."""

    def count_since(self, *, action: str, since: datetime, actor: str = "", ip: str = "") -> int:
        """How many entries of action since a time, for one actor and/or one address."""


class DeliveryRecord(Protocol):
    """What the outbox tells staff of one source's messages (a notice's run), and sending a failed one again."""

    def deliveries(self, source: str) -> list[Delivery]:
        """Every message queued for one source, one per target, in queue order."""

    def resend(self, entry_id: int, *, now: datetime) -> bool:
        """Queue an unconfirmed or failed entry again; False if it is in no such state."""


class NoticeStore(Protocol):
    """Notices, their runs, and the fan-out of a run into the outbox (bot.storage.notices.SqlNotices)."""

    def add(
        self,
        draft: NoticeDraft,
        *,
        author: str,
        author_username: str,
        scope: str | None,
        now: datetime,
        status: NoticeStatus = NoticeStatus.SCHEDULED,
        origin: str | None = None,
    ) -> Notice:
        """Store a new notice (or a draft); NoticeAlreadySubmittedError when one was stored under origin before."""

    def by_origin(self, origin: str) -> Notice | None:
        """The notice stored from one submitted form."""

    def get(self, notice_id: int) -> Notice | None:
        """One notice, if it exists."""

    def latest_draft(self, author_username: str, *, since: datetime) -> Notice | None:
        """The author's newest draft written at or after since."""

    def listed(self, *, scope: str | None, limit: int) -> list[Notice]:
        """The newest notices first: every one (scope None), or those of one community's authors."""

    def move(
        self, notice_id: int, event: NoticeEvent, *, actor: str, now: datetime, draft: NoticeDraft | None = None
    ) -> Notice:
        """Move a notice through its workflow (an edit stores the new draft with it)."""

    def start_run(
        self, notice_id: int, run_key: str, *, event: NoticeEvent | None, actor: str, now: datetime
    ) -> NoticeRun:
        """Record a run before any of its messages is queued, or find it recorded before."""

    def run(self, notice_id: int, run_key: str) -> NoticeRun | None:
        """One run of a notice."""

    def runs(self, notice_id: int) -> list[NoticeRun]:
        """Every run of a notice, the newest first."""

    def unfinished_runs(self) -> list[NoticeRun]:
        """Runs recorded whose messages were not all queued, oldest first."""

    def fan_out(
        self, run: NoticeRun, messages: Sequence[OutboundMessage], *, priority: SendPriority, now: datetime
    ) -> int:
        """Queue one message per group of a run (those not queued before) and mark the run queued, atomically."""


class JobPlanner(Protocol):
    """The scheduler as a service sees it: named jobs stored with a trigger, removed by id (bot.scheduling)."""

    def at(self, name: str, when: datetime, *, job_id: str, **kwargs: Any) -> None:
        """Run the named job once, at when."""

    def cron(self, name: str, expression: str, *, job_id: str, timezone: tzinfo = UTC, **kwargs: Any) -> None:
        """Run the named job on a crontab expression, read in timezone."""

    def remove(self, job_id: str) -> bool:
        """Delete a stored job; whether there was one."""


class ChatGateway(Protocol):
    """Sends messages on one platform account (WeChat through wechaty, the terminal …)."""

    async def send(self, message: OutboundMessage) -> None:
        """Deliver one message. On failure raise bot.domain.outbox.PermanentSendError when it can never succeed (the
        group or person is gone, the bot was removed, the platform refused it: never retried) or TransientSendError
        when it may succeed later (a timeout, a lost connection: retried with backoff). Any other exception counts as
        transient."""


@runtime_checkable
class IdempotentGateway(ChatGateway, Protocol):
    """A gateway whose peer drops a message it already took when the same delivery id comes again (a webhook that
    answered too late): the outbox hands it each entry's id, the same on every retry."""

    async def send_delivery(self, message: OutboundMessage, *, delivery_id: str) -> None:
        """Deliver one message under delivery_id; the errors are ChatGateway.send's."""


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Timezone-aware UTC now."""
        return datetime.now(UTC)
