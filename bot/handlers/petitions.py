"""The petition rows (priority 80, after the rate limit and before answering): a resident confirming a complaint
("1"), or saying something else instead; the place asked for; "查询 2026-0012" and "我的诉求"; a petition said as one
(filed at once) or a complaint (the resident asked to confirm; never filed silently, never sent to the FAQ queue)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bot.domain.messages import InboundMessage, MessageKind, OutboundMessage
from bot.domain.petitions import (
    Petition,
    PetitionDraft,
    PetitionMoveRefused,
    Receipt,
    Recognition,
    RecognitionKind,
    Reporter,
    find_location,
)
from bot.domain.photos import PhotoRefusedError, PhotoSource, ReceivedPhoto
from bot.handlers.context import Handling, MessageContext
from bot.handlers.table import Handler
from bot.services.escalation import wants_a_person
from bot.services.petitions import (
    EMPTY_PETITION_TEXT,
    PetitionDesk,
    PetitionQuery,
    Verdict,
    is_confirmation,
    parse_query,
    parse_verdict,
)
from bot.services.photos import PhotoAlbum

PRIORITY = 80
# A picture needs no @ (WeChat cannot mention anyone with one): its row runs before the "not addressed" gate.
PHOTO_PRIORITY = 45
PHOTO_TOO_LATE = "这张照片没有附上：要登记的诉求已经过期，请重新描述问题。"


def reporter_of(message: InboundMessage) -> Reporter:
    """Who sent message and where (its names already masked at the edge)."""
    return Reporter(message.channel, message.group_id, message.group_name, message.sender_id, message.sender_name)


def _handled(outcome: str, replies: Sequence[OutboundMessage]) -> Handling:
    """The handling of a petition step that marked its message handled with its replies in its own transaction;
    none queued means another delivery of the message was handled first."""
    if not replies:
        return Handling("duplicate")
    return Handling(outcome, list(replies), recorded=True)


class ConfirmPetition:
    """A resident asked to confirm a complaint says "1": the petition is filed and its number told, and the pictures
    they sent meanwhile are kept on it."""

    name = "petition_confirm"
    priority = PRIORITY
    block = True

    def __init__(self, desk: PetitionDesk, album: PhotoAlbum | None = None) -> None:
        self._desk = desk
        self._album = album

    def check(self, message: InboundMessage, context: MessageContext) -> PetitionDraft | None:
        """The complaint waiting for this resident's confirmation, when the message confirms it."""
        if not is_confirmation(context.addressed.text):
            return None
        return self._desk.pending(reporter_of(message))

    def handle(self, message: InboundMessage, context: MessageContext, match: PetitionDraft) -> Handling:
        """File it and tell the number, with the message marked handled in the same transaction; then keep the
        pictures sent with the complaint on the case (read before filing, which forgets the draft)."""
        photos = self._desk.pending_photos(match) if self._album is not None else []
        filing = self._desk.file(match, receipt=Receipt(message.message_id, "petition_filed"))
        if self._album is not None and filing.petition is not None:
            for photo, content in photos:
                try:
                    self._album.keep(filing.petition, photo, content, source=PhotoSource.WECHAT)
                except PhotoRefusedError:  # the case is full: the draft held no more than it may have
                    break
        return _handled("petition_filed", filing.replies if filing.recorded else ())


class DropUnconfirmedPetition:
    """Anything but "1" from a resident asked to confirm a complaint drops it; the message goes on to the rows after
    (answering, or a new petition). Queues nothing, so it does not block."""

    name = "petition_unconfirmed"
    priority = PRIORITY
    block = False

    def __init__(self, desk: PetitionDesk) -> None:
        self._desk = desk

    def check(self, message: InboundMessage, context: MessageContext) -> bool:
        """Whether this resident has a complaint waiting for confirmation (the confirming "1" was taken before)."""
        return self._desk.pending(reporter_of(message)) is not None

    def handle(self, message: InboundMessage, context: MessageContext, match: bool) -> Handling:
        """Forget the complaint."""
        self._desk.drop_pending(reporter_of(message))
        return Handling("petition_unconfirmed")


class PetitionLocation:
    """The place a resident names right after being asked "请问具体在哪栋楼、哪个单元？" is kept with their case."""

    name = "petition_location"
    priority = PRIORITY
    block = True

    def __init__(self, desk: PetitionDesk) -> None:
        self._desk = desk

    def check(self, message: InboundMessage, context: MessageContext) -> Petition | None:
        """The case waiting for its location, when the message names a place and is no petition of its own ("报事
        5号楼电梯坏了" is a new case, not the place of the last one)."""
        text = context.addressed.text
        if not find_location(text) or self._desk.recognise(text).kind is not RecognitionKind.NONE:
            return None
        return self._desk.awaiting_location(reporter_of(message))

    def handle(self, message: InboundMessage, context: MessageContext, match: Petition) -> Handling:
        """Keep the place and thank the resident."""
        receipt = Receipt(message.message_id, "petition_located")
        replies = self._desk.locate(match, context.addressed.text, receipt=receipt)
        return _handled("petition_located", replies)


class PetitionStatusQuery:
    """A resident asks after their petitions: "查询 2026-0012" tells where that case stands, "我的诉求" lists their
    open cases."""

    name = "petition_status"
    priority = PRIORITY
    block = True

    def __init__(self, desk: PetitionDesk) -> None:
        self._desk = desk

    def check(self, message: InboundMessage, context: MessageContext) -> PetitionQuery | None:
        """The query, if the message is one."""
        return parse_query(context.addressed.text)

    def handle(self, message: InboundMessage, context: MessageContext, match: PetitionQuery) -> Handling:
        """Reply with the case's status or the resident's cases."""
        asker = reporter_of(message)
        text = self._desk.mine(asker) if match.number is None else self._desk.status(match.number, asker)
        return context.queue(text, "petition_status")


class AnswerResolvedPetition:
    """The reporter of a resolved case answers it: "满意" / "基本满意" / "不满意" closes it with that rating, "没解决"
    reopens it. Only their own case, only while it is resolved; otherwise the message goes on."""

    name = "petition_verdict"
    priority = PRIORITY
    block = True

    def __init__(self, desk: PetitionDesk) -> None:
        self._desk = desk

    def check(self, message: InboundMessage, context: MessageContext) -> tuple[Petition, Verdict] | None:
        """The sender's resolved case and their answer, when the message is one."""
        verdict = parse_verdict(context.addressed.text)
        if verdict is None:
            return None
        petition = self._desk.awaiting_verdict(reporter_of(message), verdict.number)
        return None if petition is None else (petition, verdict)

    def handle(self, message: InboundMessage, context: MessageContext, match: tuple[Petition, Verdict]) -> Handling:
        """Close or reopen the case, the resident told and their message marked handled in the move's transaction; a
        case moved meanwhile (another delivery of the message got there first) leaves the message as handled."""
        petition, verdict = match
        outcome = "petition_rated" if verdict.rating is not None else "petition_reopened"
        try:
            self._desk.answer(petition, verdict, receipt=Receipt(message.message_id, outcome))
        except PetitionMoveRefused:
            return context.finish("petition_verdict_late")
        return Handling(outcome, recorded=True)


class FilePetition:
    """A petition said as one ("报事 …") is filed at once and its number told; a complaint the recogniser finds in
    other words is kept for the resident to confirm."""

    name = "petition"
    priority = PRIORITY
    block = True

    def __init__(self, desk: PetitionDesk) -> None:
        self._desk = desk

    def check(self, message: InboundMessage, context: MessageContext) -> Recognition | None:
        """The recogniser's verdict, unless the message is no petition; a complaint that asks for a person ("转人工，
        楼上漏水三天了") goes to staff as the resident asked, not to a confirmation."""
        recognition = self._desk.recognise(context.addressed.text)
        if recognition.kind is RecognitionKind.NONE:
            return None
        if recognition.kind is RecognitionKind.IMPLICIT and wants_a_person(context.addressed.text):
            return None
        return recognition

    def handle(self, message: InboundMessage, context: MessageContext, match: Recognition) -> Handling:
        """File it or ask to confirm it; a bare trigger ("报事") gets a request to say what happened."""
        draft = self._desk.draft(match, reporter_of(message), origin=message.message_id)
        if not draft.description:
            return context.queue(EMPTY_PETITION_TEXT, "petition_empty")
        if match.kind is RecognitionKind.EXPLICIT:
            filing = self._desk.file(draft, receipt=Receipt(message.message_id, "petition_filed"))
            return _handled("petition_filed", filing.replies if filing.recorded else ())
        replies = self._desk.ask_to_confirm(draft, receipt=Receipt(message.message_id, "petition_to_confirm"))
        return _handled("petition_to_confirm", replies)


class AttachPhoto:
    """A picture a resident sends while their complaint waits for "1" is kept with it (and goes on the case once
    confirmed); one sent right after reporting something (by default within 30 minutes, the case not yet settled)
    is kept on that case. Either is acknowledged with its place among the case's photos; one that cannot be kept
    (too large, not an image, the case full) is answered with the reason. A picture with neither is left to the
    rows after: in a group nobody is answered (residents send pictures all day), privately the hint to write."""

    name = "petition_photo"
    priority = PHOTO_PRIORITY
    block = True

    def __init__(self, desk: PetitionDesk, album: PhotoAlbum, *, within: timedelta) -> None:
        self._desk = desk
        self._album = album
        self._within = within

    def check(
        self, message: InboundMessage, context: MessageContext
    ) -> tuple[Petition | PetitionDraft, ReceivedPhoto] | None:
        """The sender's complaint waiting for "1", else their case the picture belongs to, with the picture as
        checked on arrival."""
        if message.kind is not MessageKind.IMAGE or message.photo is None:
            return None
        reporter = reporter_of(message)
        target = self._desk.pending(reporter) or self._desk.photo_case(reporter, within=self._within)
        return None if target is None else (target, message.photo)

    def handle(
        self, message: InboundMessage, context: MessageContext, match: tuple[Petition | PetitionDraft, ReceivedPhoto]
    ) -> Handling:
        """Keep the picture (the same picture twice is kept once) and say so, or say why not."""
        target, received = match
        case = f"诉求 {target.number}" if isinstance(target, Petition) else "您的诉求"
        if received.photo is None:
            return context.queue(f"{case}的照片没有附上：{received.refused}", "petition_photo_refused")
        try:
            if isinstance(target, Petition):
                kept = self._album.keep(target, received.photo, received.content, source=PhotoSource.WECHAT)
                place = next((n for n, p in enumerate(self._album.of_case(target), 1) if p.id == kept.id), 1)
                return context.queue(f"照片已收到，已附在{case}（第 {place} 张）。", "petition_photo")
            held = self._desk.hold_photo(target, received.photo, received.content, limit=self._album.per_case)
        except PhotoRefusedError as refused:
            return context.queue(f"{case}的照片没有附上：{refused}", "petition_photo_refused")
        if held is None:  # the complaint expired or was answered meanwhile
            return context.queue(PHOTO_TOO_LATE, "petition_photo_refused")
        return context.queue(f"照片已收到（第 {held} 张），回复 1 确认登记诉求后会一并附上。", "petition_photo_held")


def petition_rows(desk: PetitionDesk, album: PhotoAlbum | None = None) -> list[Handler[Any]]:
    """The petition rows, all at priority 80, in the order they run (album: pictures kept with a complaint go on
    its case once it is confirmed)."""
    return [
        ConfirmPetition(desk, album),  # "1" to a complaint held for confirmation
        DropUnconfirmedPetition(desk),  # anything else drops it (does not block)
        PetitionLocation(desk),  # "3号楼2单元" after being asked where
        PetitionStatusQuery(desk),  # "查询 2026-0012", "我的诉求"
        AnswerResolvedPetition(desk),  # "满意" … closes a resolved case, "没解决" reopens it
        FilePetition(desk),  # "报事 …" filed; a complaint asked to confirm
    ]
