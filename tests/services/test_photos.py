"""Photo uploads are decoded as real images and kept as JPEG without EXIF (no GPS position), at most 1600 px on the
longest side, upright; anything else is refused with a Chinese reason."""

from __future__ import annotations

import hashlib

import pytest

from bot.domain.photos import JPEG, PhotoRefusedError
from bot.services.photos import normalised_jpeg
from tests.support.photos import opened, phone_jpeg, transparent_png

MB = 1024 * 1024


def test_a_phone_photo_is_shrunk_and_loses_its_exif_and_gps_position() -> None:
    original = phone_jpeg(2400, 1800)
    assert b"PhoneMaker" in original and opened(original).getexif()
    photo, kept = normalised_jpeg(original, max_bytes=8 * MB)
    image = opened(kept)
    assert image.format == "JPEG" and (image.width, image.height) == (1600, 1200)
    assert not image.getexif() and b"Exif" not in kept and b"PhoneMaker" not in kept
    assert photo.content_type == JPEG and (photo.width, photo.height) == (1600, 1200)
    assert photo.size == len(kept) and photo.sha256 == hashlib.sha256(kept).hexdigest()


def test_a_photo_taken_sideways_is_turned_upright_before_its_exif_is_dropped() -> None:
    photo, kept = normalised_jpeg(phone_jpeg(800, 600, orientation=6), max_bytes=8 * MB)
    assert (photo.width, photo.height) == (600, 800) and not opened(kept).getexif()


def test_a_small_transparent_png_is_kept_at_its_size_on_white() -> None:
    photo, kept = normalised_jpeg(transparent_png(300, 200), max_bytes=8 * MB)
    image = opened(kept)
    assert (photo.width, photo.height) == (300, 200) and image.mode == "RGB"
    red, white = image.getpixel((10, 10)), image.getpixel((290, 10))
    assert isinstance(red, tuple) and isinstance(white, tuple)
    assert red[0] > 150 and red[1] < 80 and min(white) > 240


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "空的"),
        (b"%PDF-1.7 not a picture at all", "不是能识别的图片"),
        (b"GIF89a" + b"\x00" * 40, "照片"),
        (phone_jpeg(400, 300)[:600], "损坏"),
    ],
)
def test_what_is_not_an_image_is_refused_in_chinese(content: bytes, reason: str) -> None:
    with pytest.raises(PhotoRefusedError, match=reason):
        normalised_jpeg(content, max_bytes=8 * MB)


def test_an_upload_over_the_limit_is_refused_before_it_is_decoded() -> None:
    with pytest.raises(PhotoRefusedError, match="太大"):
        normalised_jpeg(phone_jpeg(400, 300), max_bytes=1000)
