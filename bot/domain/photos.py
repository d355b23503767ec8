"""Photos residents send with a petition: what is kept of each (content hash, size, where it came from) and why an
upload is refused. The files themselves are JPEGs re-encoded without EXIF, one per content hash."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.domain.errors import AssistantError

JPEG = "image/jpeg"


class PhotoSource(StrEnum):
    """Where a photo came from."""

    DOOR_CODE = "qr"
    WECHAT = "wechat"

    @property
    def label(self) -> str:
        """The source as staff read it."""
        return {"qr": "门牌码页面", "wechat": "微信"}[self.value]


@dataclass(frozen=True, slots=True)
class Photo:
    """One stored image: its SHA-256 (the file's name), type, size in bytes and pixels."""

    sha256: str
    content_type: str
    size: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class CasePhoto:
    """A photo attached to a case."""

    id: int
    petition_id: int
    photo: Photo
    source: PhotoSource
    created_at: datetime


class PhotoRefusedError(AssistantError):
    """An upload that is not kept (not an image, too large, too many for the case); the message says why."""


@dataclass(frozen=True, slots=True)
class ReceivedPhoto:
    """A picture a resident sent in chat, checked on arrival: the JPEG that would be kept (photo and content, EXIF
    already dropped), or why it cannot be (refused, in Chinese)."""

    photo: Photo | None
    content: bytes = field(default=b"", repr=False)
    refused: str = ""
