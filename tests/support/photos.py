"""Real image files for photo tests: a phone-like JPEG with EXIF (GPS position, camera, orientation), and others."""

from __future__ import annotations

import io

from PIL import ExifTags, Image


def phone_jpeg(width: int = 2400, height: int = 1800, *, orientation: int = 1) -> bytes:
    """A JPEG as a phone camera writes it: EXIF with the camera, a GPS position and an orientation."""
    image = Image.new("RGB", (width, height), (180, 90, 40))
    for x in range(0, width, 200):  # some structure so the encoder has work to do
        image.paste((20, 120, 200), (x, 0, x + 60, height))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (31.0, 14.0, 6.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (121.0, 28.0, 12.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, exif=exif)
    return out.getvalue()


def transparent_png(width: int = 300, height: int = 200) -> bytes:
    """A PNG with a transparent half."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.paste((200, 30, 30, 255), (0, 0, width // 2, height))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def opened(content: bytes) -> Image.Image:
    """An image decoded from bytes."""
    image = Image.open(io.BytesIO(content))
    image.load()
    return image
