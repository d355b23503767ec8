"""WeCom (企业微信) group robots as a chat gateway: a department's dispatches POSTed to its group robot's webhook.

The robot's documented API: POST {webhook}?key=<robot key> with {"msgtype": "text", "text": {"content": …,
"mentioned_list": [...]}}; the answer is {"errcode": 0, "errmsg": "ok"} (HTTP 200 even on errors). The content is at
most 2048 bytes of UTF-8, and one robot takes at most 20 messages a minute (errcode 45009 beyond that).

A longer text is split into several messages sent in order, each marked "（1/3）": a dispatch is a case the department
must act on, and a truncated one would lose the place or the resident's words. A part that fails is retried by the
outbox, and the parts already sent are not sent again while this process runs (a restart between parts repeats the
earlier ones, marked, rather than losing the rest)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from bot.channels.webhook import WebhookPeer, post_json
from bot.config import Settings
from bot.domain.messages import OutboundMessage
from bot.domain.outbox import PermanentSendError, TransientSendError
from bot.domain.wecom import check_robot_key, mask_key, mask_robot_keys, split_content

log = logging.getLogger(__name__)

# How many partly sent texts are remembered (so a retry sends only the parts that did not go).
_PROGRESS_KEPT = 1000

# errcodes whose message will never be taken as it is: the key or the content is wrong.
_PERMANENT = {
    93000: "企业微信群机器人地址无效（key 不对，或机器人已被移出群）",
    93004: "企业微信群机器人已被停用",
    40008: "企业微信不收这种消息（消息类型不对）",
    44004: "消息是空的，企业微信不收空消息",
    40058: "企业微信说消息内容不合规（参数不对）",
}
_FREQUENCY_LIMIT = 45009


class _MaskRobotKeys(logging.Filter):
    """httpx logs every request's address, key included: masked before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record with every key= value masked."""
        message = record.getMessage()
        masked = mask_robot_keys(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def _mask_http_logs() -> None:
    """Install the key mask on httpx's logger once."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(existing, _MaskRobotKeys) for existing in logger.filters):
        logger.addFilter(_MaskRobotKeys())


_mask_http_logs()


class WecomRobotGateway:
    """Sends outbox messages of the "wecom" channel to the group robot whose key is the message's group_id, at most
    one message per interval_s to each robot (the parts of a long text included)."""

    def __init__(
        self,
        *,
        webhook_url: str,
        timeout_s: float,
        interval_s: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._webhook_url = webhook_url
        self._timeout = httpx.Timeout(timeout_s)
        self._interval_s = interval_s
        self._sleep = sleep
        self._monotonic = monotonic
        self._last_post: dict[str, float] = {}
        self._progress: OrderedDict[str, int] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> WecomRobotGateway:
        """The gateway as the settings configure it."""
        return cls(
            webhook_url=settings.wecom_webhook_url,
            timeout_s=settings.wecom_timeout_s,
            interval_s=settings.wecom_interval_s,
        )

    async def send(self, message: OutboundMessage) -> None:
        """Post the message (split when longer than a robot takes) to its robot; @-mentions go with the first part.
        PermanentSendError for a bad key or content, TransientSendError for what may work later."""
        key = check_robot_key(message.group_id)
        parts = split_content(message.text)
        progress = _progress_key(key, message)
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            for index in range(self._progress.get(progress, 0), len(parts)):
                mentions = message.mention_ids if index == 0 else ()
                await self._wait_for_gap(key)
                await self._post(client, key, parts[index], mentions)
                self._remember(progress, index + 1)
        self._progress.pop(progress, None)

    async def _post(self, client: httpx.AsyncClient, key: str, content: str, mentions: Sequence[str]) -> None:
        """One robot message; raises the SendError its outcome calls for."""
        text: dict[str, Any] = {"content": content}
        if mentions:
            text["mentioned_list"] = list(mentions)
        self._last_post[key] = self._monotonic()
        peer = WebhookPeer("企业微信", f"WeCom robot {mask_key(key)}", _refused)
        response = await post_json(
            client, self._webhook_url, peer, log, params={"key": key}, body={"msgtype": "text", "text": text}
        )
        _check_answer(key, response)

    async def _wait_for_gap(self, key: str) -> None:
        """Wait until the robot's last message is interval_s old."""
        last = self._last_post.get(key)
        if last is not None:
            wait = last + self._interval_s - self._monotonic()
            if wait > 0:
                await self._sleep(wait)

    def _remember(self, progress: str, parts_sent: int) -> None:
        """Keep how many parts of a text went out (the oldest forgotten beyond _PROGRESS_KEPT)."""
        self._progress[progress] = parts_sent
        self._progress.move_to_end(progress)
        while len(self._progress) > _PROGRESS_KEPT:
            self._progress.popitem(last=False)


def _progress_key(key: str, message: OutboundMessage) -> str:
    """Which text to which robot: a digest, so no text or key is kept in memory twice."""
    joined = "\n".join((key, *message.mention_ids, message.text))
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


def _refused(response: httpx.Response) -> str:
    """Why a 4xx answer from the webhook address means the setting is wrong."""
    return f"企业微信群机器人的接口地址不对（HTTP {response.status_code}），请管理员检查设置"


def _check_answer(key: str, response: httpx.Response) -> None:
    """Nothing when the robot took the message (errcode 0); otherwise the SendError its answer calls for."""
    status = response.status_code
    try:
        answer = response.json()
        errcode = int(answer["errcode"])
    except (ValueError, TypeError, KeyError):
        log.warning("WeCom robot %s: an answer that is not WeCom's JSON (HTTP %d)", mask_key(key), status)
        raise TransientSendError("企业微信的回应看不懂，稍后重试") from None
    if errcode == 0:
        return
    errmsg = str(answer.get("errmsg", ""))[:200]
    log.warning("WeCom robot %s: errcode %d: %s", mask_key(key), errcode, errmsg)
    if errcode == _FREQUENCY_LIMIT:
        raise TransientSendError("企业微信群机器人发得太频繁（每分钟最多 20 条），稍后重试")
    if errcode in _PERMANENT:
        raise PermanentSendError(f"{_PERMANENT[errcode]}（错误码 {errcode}）")
    raise TransientSendError(f"企业微信没有收下这条消息（错误码 {errcode}），稍后重试")
