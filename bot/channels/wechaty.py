"""WeChat through a Wechaty puppet service (gRPC): the only module that imports wechaty.

python-wechaty 0.10.7 needs three things to import on Python 3.11 with today's libraries (see the project notes):
pyee<9 (pinned), urllib3.get_host (removed in urllib3 2; shimmed here) and a hashable PuppetOptions (patched here,
and a fresh PuppetOptions is always passed so the shared default is never used).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import betterproto

from bot.domain.errors import AssistantError
from bot.domain.groups import MemberJoin
from bot.domain.messages import InboundMessage, MessageKind, OutboundMessage, bounded_id, one_line
from bot.domain.outbox import Membership, PermanentSendError, SendError, TransientSendError, as_send_error
from bot.domain.privacy import mask_personal_data

log = logging.getLogger(__name__)

WECHAT = "wechat"
_KINDS = {
    "MESSAGE_TYPE_TEXT": MessageKind.TEXT,
    "MESSAGE_TYPE_IMAGE": MessageKind.IMAGE,
    "MESSAGE_TYPE_AUDIO": MessageKind.VOICE,
    "MESSAGE_TYPE_VIDEO": MessageKind.VIDEO,
    "MESSAGE_TYPE_ATTACHMENT": MessageKind.FILE,
    "MESSAGE_TYPE_URL": MessageKind.LINK,
    "MESSAGE_TYPE_MINI_PROGRAM": MessageKind.LINK,
    "MESSAGE_TYPE_EMOTICON": MessageKind.EMOTICON,
    "MESSAGE_TYPE_TRANSFER": MessageKind.RED_PACKET,
    "MESSAGE_TYPE_RED_ENVELOPE": MessageKind.RED_PACKET,
    "MESSAGE_TYPE_RECALLED": MessageKind.SYSTEM,
    "MESSAGE_TYPE_CONTACT": MessageKind.OTHER,
    "MESSAGE_TYPE_LOCATION": MessageKind.OTHER,
    "MESSAGE_TYPE_CHAT_HISTORY": MessageKind.OTHER,
}


class WechatyChannelError(AssistantError):
    """The WeChat connection could not be made or was refused (wrong token, no gateway)."""


# What the puppet service says (as gRPC status UNKNOWN, in English) when the room or contact is not there
_NOT_THERE = re.compile(r"not exist|not found|no payload", re.IGNORECASE)


def _send_error(exc: Exception) -> SendError:
    """A failed send, classified: the group or person gone, or the message refused, is permanent; a lost connection,
    a timeout or any other error is transient."""
    from grpclib.const import Status
    from grpclib.exceptions import GRPCError, StreamTerminatedError

    if isinstance(exc, GRPCError):
        if exc.status is Status.NOT_FOUND or _NOT_THERE.search(exc.message or ""):
            return PermanentSendError("找不到这个群或这位居民（群已解散、助手已被移出群，或已不是好友）")
        if exc.status in (Status.PERMISSION_DENIED, Status.FAILED_PRECONDITION):
            return PermanentSendError("微信拒收了这条消息")
        return TransientSendError("微信服务暂时出错")
    if isinstance(exc, TimeoutError):
        return TransientSendError("发送超时")
    if isinstance(exc, OSError | StreamTerminatedError):
        return TransientSendError("与微信的连接中断")
    return as_send_error(exc)


# The puppet service's image sizes (wechaty.puppet.ImageType): 3 is the original picture.
_IMAGE_HD = 3
# FileBox types in their JSON form: 1 carries its bytes as base64; 7 is a UUID to download from the service.
_BASE64_BOX, _UUID_BOX = 1, 7
_DOWNLOAD = "/wechaty.Puppet/Download"


@dataclass
class _DownloadRequest(betterproto.Message):
    """wechaty.puppet.DownloadRequest: the UUID of a file box."""

    id: str = betterproto.string_field(1)


@dataclass
class _DownloadResponse(betterproto.Message):
    """wechaty.puppet.DownloadResponse: one chunk of the file."""

    chunk: bytes = betterproto.bytes_field(1)


def file_box_bytes(box: dict[str, Any]) -> bytes:
    """The bytes a FileBox's JSON carries in itself (base64); b"" for one that only points elsewhere (a URL, a QR
    code): nothing is downloaded from the internet at run time."""
    encoded = box.get("base64")
    if box.get("boxType", box.get("type")) != _BASE64_BOX or not isinstance(encoded, str):
        return b""
    try:
        return base64.b64decode(encoded, validate=False)
    except (binascii.Error, ValueError):
        return b""


def import_wechaty() -> Any:
    """Import wechaty with the compatibility shims applied (once)."""
    import urllib3
    import urllib3.util

    if not hasattr(urllib3, "get_host"):

        def get_host(url: str) -> tuple[str, str | None, int | None]:
            parsed = urllib3.util.parse_url(url)
            return parsed.scheme or "http", parsed.host, parsed.port

        urllib3.get_host = get_host  # type: ignore[attr-defined]
    import wechaty_puppet.schemas.puppet as puppet_schemas

    puppet_schemas.PuppetOptions.__hash__ = object.__hash__
    import wechaty

    # The library logs the text of every message received and sent at INFO: residents' numbers must not reach logs.
    for name in ("Wechaty", "Message", "Room", "Contact"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return wechaty


class WechatyChannel:
    """One WeChat account: receives messages (converted at the edge) and sends replies (a ChatGateway); tells which
    groups the account is in (its group list at login, groups it joins or leaves) to on_membership."""

    def __init__(
        self,
        *,
        endpoint: str,
        token: str,
        on_message: Callable[[InboundMessage], Awaitable[None]],
        on_join: Callable[[MemberJoin], Awaitable[None]] | None = None,
        on_membership: Callable[[Membership], Awaitable[None]] | None = None,
        login_timeout_s: float = 30.0,
        image_limit: int = 8 * 1024 * 1024,
    ) -> None:
        """image_limit: a picture's bytes are read up to one more than this (a larger one is refused, not read)."""
        self._endpoint = endpoint
        self._image_limit = image_limit
        self._token = token
        self._on_message = on_message
        self._on_join = on_join
        self._on_membership = on_membership
        self._login_timeout_s = login_timeout_s
        # The logged-in account's WeChat id ("" before the first login)
        self.account = ""
        self._bot: Any = None
        self._task: asyncio.Task[Any] | None = None
        self._logged_in = asyncio.Event()

    async def start(self) -> None:
        """Connect and wait for the account to log in; a clear error after the login timeout."""
        wechaty = import_wechaty()
        from wechaty_puppet import PuppetOptions

        # Contact/Room/Tag objects are cached in process-wide pools bound to the previous bot instance.
        for cls in (wechaty.Contact, wechaty.Room, wechaty.Tag):
            cls._pool = {}
        options = wechaty.WechatyOptions(
            puppet="wechaty-puppet-service",
            puppet_options=PuppetOptions(end_point=self._endpoint, token=self._token),
        )
        self._bot = wechaty.Wechaty(options)
        self._logged_in.clear()
        self._bot.on("login", self._login)
        self._bot.on("message", self._message)
        self._bot.on("room-join", self._room_join)
        self._bot.on("room-leave", self._room_leave)
        self._task = asyncio.create_task(self._bot.start())
        login = asyncio.create_task(self._logged_in.wait())
        done, _ = await asyncio.wait({login, self._task}, timeout=self._login_timeout_s, return_when="FIRST_COMPLETED")
        if login not in done:
            login.cancel()
            await self.stop()
            raise WechatyChannelError(
                f"微信没有在 {self._login_timeout_s:.0f} 秒内登录（服务 {self._endpoint}）：请检查 token 是否正确、"
                "puppet 服务是否在运行"
            )

    async def stop(self) -> None:
        """Disconnect cleanly, without the library's 60-second restart pause."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if self._bot is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._bot.stop(), timeout=10)

    @property
    def connected(self) -> bool:
        """Whether the account logged in and the client has not given up."""
        return self._task is not None and not self._task.done() and self._logged_in.is_set()

    async def alive(self, timeout_s: float = 5.0) -> bool:
        """Ask the puppet service for a ding: when the stream dies, wechaty only logs it and sleeps a minute."""
        if not self.connected:
            return False
        try:
            await asyncio.wait_for(self._bot.puppet.ding("health"), timeout=timeout_s)
        except Exception:  # any transport error means the connection is gone
            return False
        return True

    async def send(self, message: OutboundMessage) -> None:
        """Send a reply: in a group @-mentioning the asker, or privately. PermanentSendError when the group or person
        is not there (or the platform refuses), TransientSendError when the connection fails or times out."""
        if self._bot is None:
            raise TransientSendError("微信未连接")
        try:
            if message.group_id:
                room = self._bot.Room.load(message.group_id)
                await room.say(message.text, mention_ids=list(message.mention_ids) or None)
            else:
                contact = self._bot.Contact.load(message.user_id)
                await contact.say(message.text)
        except Exception as exc:
            raise _send_error(exc) from exc

    async def _login(self, contact: Any) -> None:
        """Known as the account that logged in, tell its whole group list, then count as logged in (so its sender
        starts knowing which groups are its own)."""
        self.account = str(contact.contact_id)
        log.info("WeChat account %s logged in", self.account)
        try:
            group_ids = await self._bot.puppet.room_search()
        except Exception as exc:  # without the list, the groups are learnt from messages
            log.warning("could not list the groups of WeChat account %s: %s", self.account, type(exc).__name__)
        else:
            await self._tell(Membership(self.account, tuple(str(g) for g in group_ids), complete=True))
        self._logged_in.set()

    async def _room_leave(self, room: Any, leavers: list[Any], *_: Any) -> None:
        if any(contact.contact_id == self.account for contact in leavers):
            await self._tell(Membership(self.account, (str(room.room_id),), member=False))

    async def _tell(self, membership: Membership) -> None:
        if self._on_membership is None:
            return
        try:
            await self._on_membership(membership)
        except Exception:  # the event stream goes on; the groups are learnt again from messages and the next login
            log.exception("could not record the groups of WeChat account %s", membership.account)

    async def _message(self, message: Any) -> None:
        try:
            inbound = await self._convert(message)
        except Exception:  # a malformed payload must not stop the event stream
            log.exception("could not read WeChat message %s", getattr(message, "message_id", "?"))
            return
        await self._on_message(inbound)

    async def _room_join(self, room: Any, invitees: list[Any], inviter: Any, date: Any) -> None:
        """WeChat's room-join event, converted at the edge: the account itself joining a group is a membership;
        others joining are a MemberJoin (who joined which group), named by its inviter and time, which a redelivery
        repeats."""
        if any(c is not None and c.contact_id == self.account for c in invitees):
            await self._tell(Membership(self.account, (str(room.room_id),)))
        if self._on_join is None:
            return
        try:
            members = tuple(
                dict.fromkeys(str(c.contact_id) for c in invitees if c is not None and c.contact_id != self.account)
            )
            if not members:
                return
            join = MemberJoin(
                channel=WECHAT,
                group_id=bounded_id(str(room.room_id)),
                group_name=mask_personal_data(one_line(await room.topic() or "")),
                member_ids=tuple(bounded_id(member) for member in members),
                event_id=f"{getattr(inviter, 'contact_id', '')}@{date.isoformat() if date is not None else ''}",
            )
        except Exception:  # a malformed payload must not stop the event stream
            log.exception("could not read a WeChat room-join event")
            return
        await self._on_join(join)

    async def _convert(self, message: Any) -> InboundMessage:
        """Resolve every lazy lookup once, here at the edge."""
        talker = message.talker()
        room = message.room()
        kind = _KINDS.get(getattr(message.type(), "name", ""), MessageKind.OTHER)
        mentions_self = bool(room is not None and await message.mention_self())
        text = ""
        if kind is MessageKind.TEXT:
            text = await message.mention_text() if room is not None else message.text()
        image = await self._image(message) if kind is MessageKind.IMAGE else b""
        sent_at = message.date()
        at = sent_at if isinstance(sent_at, datetime) else datetime.now(UTC)
        return InboundMessage(
            message_id=str(message.message_id),
            channel=WECHAT,
            sender_id=talker.contact_id if talker is not None else "",
            sender_name=(talker.name if talker is not None else "") or "",
            text=text or "",
            kind=kind,
            at=at if at.tzinfo else at.replace(tzinfo=UTC),
            group_id=room.room_id if room is not None else "",
            group_name=(await room.topic()) if room is not None else "",
            mentions_self=mentions_self,
            from_self=bool(message.is_self()),
            account=self.account,
            image=image,
        )

    async def _image(self, message: Any) -> bytes:
        """A picture's bytes (at most image_limit + 1), fetched from the puppet service; b"" when they cannot be had
        (the core then tells the resident it was not received, rather than the message being lost)."""
        try:
            return await asyncio.wait_for(self._fetch_image(str(message.message_id)), timeout=self._login_timeout_s)
        except Exception as exc:  # any transport or payload error: the picture is not there
            log.warning("could not fetch the picture of WeChat message %s: %s", message.message_id, type(exc).__name__)
            return b""

    async def _fetch_image(self, message_id: str) -> bytes:
        """MessageImage gives the picture as a FileBox in JSON. A puppet service sends one over 20 KB as a UUID box,
        whose bytes come from its Download stream; python-wechaty 0.10.7 knows neither, so both are read here."""
        stub = self._bot.puppet.puppet_stub
        response = await stub.message_image(id=message_id, type=_IMAGE_HD)
        box = json.loads(response.filebox)
        if box.get("boxType", box.get("type")) != _UUID_BOX:
            return file_box_bytes(box)
        content = bytearray()
        async for part in stub._unary_stream(_DOWNLOAD, _DownloadRequest(id=str(box["uuid"])), _DownloadResponse):
            content += part.chunk
            if len(content) > self._image_limit:
                break
        return bytes(content[: self._image_limit + 1])
