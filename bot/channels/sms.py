"""An SMS gateway as a chat gateway, for residents without WeChat: each "sms" outbox message (user_id: a mainland
mobile number) is POSTed to the community's SMS relay (its IT's, or an SMS vendor's) in this documented JSON:

    POST {BOT_SMS_WEBHOOK_URL}
    Authorization: Bearer {BOT_SMS_TOKEN}
    Content-Type: application/json; charset=utf-8
    {"id": "outbox-42", "to": "13812345678", "text": "…", "sign": "【幸福社区】"}

id is the same on every retry of one message, so a relay that answered too late can drop the repeat. The answer:
any 2xx is taken (the body is not read); 429 and 5xx (and 408, a timeout, a lost connection) are retried later,
429's Retry-After (seconds or an HTTP date) respected; any other 4xx is final, its JSON {"error": "…"} shown to
staff. The text goes whole (the carrier splits it into 70-character segments); one over BOT_SMS_MAX_CHARS, or a
number that is no mainland mobile number, is refused before any request. Numbers are masked in every log line."""

from __future__ import annotations

import logging
import secrets

import httpx

from bot.channels.webhook import WebhookPeer, post_json
from bot.config import Settings
from bot.domain.messages import OutboundMessage, one_line
from bot.domain.outbox import PermanentSendError
from bot.domain.privacy import mask_personal_data
from bot.domain.sms import check_mobile, check_text, mask_mobile

log = logging.getLogger(__name__)

_REASON_CHARS = 100


class SmsGateway:
    """Sends outbox messages of the "sms" channel through the configured SMS relay (an IdempotentGateway)."""

    def __init__(self, *, webhook_url: str, token: str, sign: str, timeout_s: float, max_chars: int) -> None:
        self._webhook_url = webhook_url
        self._token = token
        self._sign = sign
        self._timeout = httpx.Timeout(timeout_s)
        self._max_chars = max_chars

    @classmethod
    def from_settings(cls, settings: Settings) -> SmsGateway:
        """The gateway as the settings configure it."""
        return cls(
            webhook_url=settings.sms_webhook_url,
            token=settings.sms_token.get_secret_value(),
            sign=settings.sms_sign,
            timeout_s=settings.sms_timeout_s,
            max_chars=settings.sms_max_chars,
        )

    async def send(self, message: OutboundMessage) -> None:
        """Send one message under a fresh id (a test message; the outbox uses send_delivery)."""
        await self.send_delivery(message, delivery_id=f"once-{secrets.token_hex(8)}")

    async def send_delivery(self, message: OutboundMessage, *, delivery_id: str) -> None:
        """POST the message to the relay; PermanentSendError for a bad number, a text too long or a refusal,
        TransientSendError for what may work later."""
        number = check_mobile(message.user_id)
        text = check_text(message.text, max_chars=self._max_chars)
        if not self._webhook_url:
            raise PermanentSendError("还没有设置短信网关地址（BOT_SMS_WEBHOOK_URL），短信发不出去")
        peer = WebhookPeer("短信网关", f"SMS to {mask_mobile(number)}", _refused)
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        body = {"id": delivery_id, "to": number, "text": text, "sign": self._sign}
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            await post_json(client, self._webhook_url, peer, log, body=body, headers=headers)


def _refused(response: httpx.Response) -> str:
    """Why the relay refused a message for good, as staff read it: by status, with the relay's own reason."""
    status = response.status_code
    if status in (401, 403):
        reason = f"短信网关不认这个令牌（HTTP {status}），请管理员检查 BOT_SMS_TOKEN"
    elif status in (404, 405):
        reason = f"短信网关地址不对（HTTP {status}），请管理员检查 BOT_SMS_WEBHOOK_URL"
    else:
        reason = f"短信网关拒收了这条短信（HTTP {status}）"
    said = _relay_reason(response)
    return f"{reason}：{said}" if said else reason


def _relay_reason(response: httpx.Response) -> str:
    """The relay's {"error": "…"}, one short line with numbers masked; empty when it gave none."""
    try:
        answer = response.json()
    except ValueError:
        return ""
    error = answer.get("error") if isinstance(answer, dict) else None
    return mask_personal_data(one_line(error, limit=_REASON_CHARS)) if isinstance(error, str) else ""
