"""What every webhook channel (WeCom group robots, the SMS gateway) shares: one JSON POST whose failures are
classified for the outbox. A timeout, a lost connection, HTTP 408, 429 and 5xx may work later (TransientSendError,
429's Retry-After kept for the backoff); any other 4xx never will (PermanentSendError, with the reason the channel
gives for that status)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.domain.outbox import PermanentSendError, TransientSendError

# A Retry-After longer than this is taken as this: the outbox keeps retrying within the hour.
_LONGEST_RETRY_AFTER_S = 3600.0


@dataclass(frozen=True, slots=True)
class WebhookPeer:
    """Who is posted to, as staff read it in a reason (name: "企业微信", "短信网关") and as a log line names it (already
    masked: "WeCom robot 5f3c****4a59"); refused(response) is the permanent reason for a 4xx answer."""

    name: str
    log_subject: str
    refused: Callable[[httpx.Response], str]


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    peer: WebhookPeer,
    log: logging.Logger,
    *,
    body: Mapping[str, Any],
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """POST body as JSON; the response when its status is below 400 (the caller reads the answer), else the
    SendError the status calls for. Logged by peer and status only, never the body."""
    try:
        response = await client.post(url, params=params, headers=headers, json=dict(body))
    except httpx.TimeoutException:
        log.warning("%s: no answer in time", peer.log_subject)
        raise TransientSendError(f"{peer.name}没有及时回应（超时），稍后重试") from None
    except httpx.TransportError as exc:
        log.warning("%s: %s", peer.log_subject, type(exc).__name__)
        raise TransientSendError(f"连不上{peer.name}（网络问题），稍后重试") from None
    status = response.status_code
    if status < 400:
        return response
    log.warning("%s: HTTP %d", peer.log_subject, status)
    if status >= 500 or status in (408, 429):
        retry_after = retry_after_s(response.headers.get("Retry-After", ""))
        wait = f"，{retry_after:g} 秒后重试" if retry_after is not None else "，稍后重试"
        busy = "太忙（请求太频繁）" if status == 429 else "暂时出错"
        raise TransientSendError(f"{peer.name}{busy}（HTTP {status}）{wait}", retry_after_s=retry_after)
    raise PermanentSendError(peer.refused(response))


def retry_after_s(value: str, *, now: datetime | None = None) -> float | None:
    """An HTTP Retry-After header (seconds, or an HTTP date) as seconds from now, between 0 and an hour; None when
    absent or unreadable."""
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, min(seconds, _LONGEST_RETRY_AFTER_S))
