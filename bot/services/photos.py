"""Photos on petitions (诉求): every upload is decoded as a real image, turned upright, shrunk to at most 1600 px on its
longest side and re-encoded as JPEG without EXIF (a phone's photo carries where it was taken), then kept on its case."""

from __future__ import annotations

import hashlib
import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from bot.domain.petitions import Petition
from bot.domain.photos import JPEG, CasePhoto, Photo, PhotoRefusedError, PhotoSource, ReceivedPhoto
from bot.ports import Clock, PhotoStore

MAX_SIDE = 1600
# Formats a phone or a computer sends; anything else is refused before it is decoded.
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP"})
# A picture this many pixels or more is refused undecoded (a small file can claim a huge canvas).
MAX_PIXELS = 50_000_000
JPEG_QUALITY = 85
NOT_AN_IMAGE = "这个文件不是能识别的图片，请上传手机拍的照片（JPG、PNG 等）。"
# A picture sent in chat whose bytes the channel could not fetch from WeChat.
NOT_RECEIVED = "这张照片没有收到，请重新发一次。"


def normalised_jpeg(content: bytes, *, max_bytes: int, max_side: int = MAX_SIDE) -> tuple[Photo, bytes]:
    """The upload as the JPEG that is kept (upright, EXIF dropped, longest side at most max_side) and its record;
    PhotoRefusedError with the reason when it is empty, too large or not an image."""
    if not content:
        raise PhotoRefusedError("照片是空的，请重新选择。")
    if len(content) > max_bytes:
        raise PhotoRefusedError(f"照片太大了（最大 {max_bytes / (1024 * 1024):g} MB），请换一张或压缩后再传。")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as probe:
                if probe.format not in ACCEPTED_FORMATS:
                    raise PhotoRefusedError(NOT_AN_IMAGE)
                if probe.width * probe.height >= MAX_PIXELS:
                    raise PhotoRefusedError("照片像素太多，请换一张。")
                probe.verify()
            with Image.open(io.BytesIO(content)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
    except PhotoRefusedError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRefusedError(NOT_AN_IMAGE) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # truncated or damaged files
        raise PhotoRefusedError("照片文件已损坏，无法打开，请重新拍一张。") from exc
    upright.thumbnail((max_side, max_side))
    rgb = _on_white(upright)
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)  # no exif= given: none is written
    data = out.getvalue()
    photo = Photo(hashlib.sha256(data).hexdigest(), JPEG, len(data), rgb.width, rgb.height)
    return photo, data


def _on_white(image: Image.Image) -> Image.Image:
    """An RGB copy; transparent parts become white (JPEG has no transparency)."""
    if image.mode in {"RGBA", "LA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return image.convert("RGB")


class PhotoAlbum:
    """Photos of petitions: checked and re-encoded on the way in, at most per_case on one case."""

    def __init__(
        self, store: PhotoStore, clock: Clock, *, max_bytes: int, per_case: int = 6, max_side: int = MAX_SIDE
    ) -> None:
        self._store = store
        self._clock = clock
        self._max_bytes = max_bytes
        self._per_case = per_case
        self._max_side = max_side

    @property
    def per_case(self) -> int:
        """The most photos one case keeps."""
        return self._per_case

    @property
    def max_bytes(self) -> int:
        """The largest upload taken."""
        return self._max_bytes

    def check(self, content: bytes) -> tuple[Photo, bytes]:
        """The upload as it would be kept; PhotoRefusedError with the reason if it cannot be (checked before a case
        is filed, so a bad photo never leaves a case without the photo the resident meant to send)."""
        return normalised_jpeg(content, max_bytes=self._max_bytes, max_side=self._max_side)

    def received(self, content: bytes) -> ReceivedPhoto:
        """A picture sent in chat, checked on arrival: the JPEG that would be kept, or why it cannot be (nothing
        fetched: NOT_RECEIVED)."""
        if not content:
            return ReceivedPhoto(None, refused=NOT_RECEIVED)
        try:
            photo, data = self.check(content)
        except PhotoRefusedError as refused:
            return ReceivedPhoto(None, refused=str(refused))
        return ReceivedPhoto(photo, data)

    def attach(self, petition: Petition, content: bytes, *, source: PhotoSource) -> CasePhoto:
        """Check content and keep it on the case; PhotoRefusedError with the reason if it is not taken."""
        photo, data = self.check(content)
        return self.keep(petition, photo, data, source=source)

    def keep(self, petition: Petition, photo: Photo, data: bytes, *, source: PhotoSource) -> CasePhoto:
        """Keep a checked photo on the case; PhotoRefusedError when the case has per_case photos already."""
        return self._store.attach(petition.id, photo, data, source=source, now=self._clock.now(), limit=self._per_case)

    def of_case(self, petition: Petition) -> list[CasePhoto]:
        """The photos of one case, oldest first."""
        return self._store.of_case(petition.id)

    def find(self, petition: Petition, photo_id: int) -> CasePhoto | None:
        """One photo of the case (None if it is not this case's)."""
        return next((p for p in self._store.of_case(petition.id) if p.id == photo_id), None)

    def content(self, photo: CasePhoto) -> bytes:
        """The stored JPEG."""
        return self._store.content(photo.photo)
