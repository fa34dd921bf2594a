"""The picture size an image file declares in its header, read without decoding a single pixel.

A file of a few hundred kilobytes can declare 30000x30000 pixels (a decompression bomb); reading the
header first lets `stylize.imageio` refuse it before the decoder allocates gigabytes. Covered: PNG,
JPEG, BMP, WebP, TIFF and PNM, the formats OpenCV reads most often; for anything else
`declared_size` returns None and OpenCV's own header check is the guard.
"""
from __future__ import annotations

import re
import struct

# JPEG start-of-frame markers: every coding process, not DHT (C4), JPG (C8) or DAC (CC).
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD9)}  # markers without a length field
_PNM = re.compile(rb"P[1-6](?:\s+|#[^\n]*\n)+(\d+)(?:\s+|#[^\n]*\n)+(\d+)")


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as the header states it, or None for a format (or header) not understood here."""
    for reader in (_png, _jpeg, _bmp, _webp, _tiff, _pnm):
        try:
            size = reader(data)
        except (struct.error, IndexError, ValueError):  # a header cut short: the decoder will say so
            return None
        if size is not None:
            return size
    return None


def _png(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _jpeg(data: bytes) -> tuple[int, int] | None:
    if data[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker in _JPEG_STANDALONE:
            at += 2
            continue
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return width, height
        if marker == 0xDA:  # image data begins without a frame header: not a JPEG we can size
            return None
        at += 2 + struct.unpack(">H", data[at + 2:at + 4])[0]
    return None


def _bmp(data: bytes) -> tuple[int, int] | None:
    if data[:2] != b"BM":
        return None
    if struct.unpack("<I", data[14:18])[0] == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sides
        return struct.unpack("<HH", data[18:22])
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)  # a negative height means top-down rows


def _webp(data: bytes) -> tuple[int, int] | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        return (int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1)
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


def _tiff(data: bytes) -> tuple[int, int] | None:
    order = {b"II*\x00": "<", b"MM\x00*": ">"}.get(data[:4])
    if order is None:
        return None
    ifd = struct.unpack(order + "I", data[4:8])[0]
    sides = {}
    for entry in range(struct.unpack(order + "H", data[ifd:ifd + 2])[0]):
        at = ifd + 2 + 12 * entry
        tag, kind = struct.unpack(order + "HH", data[at:at + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT (3) or LONG (4)
            short = kind == 3
            sides[tag] = struct.unpack(order + ("H" if short else "I"), data[at + 8:at + (10 if short else 12)])[0]
    return (sides[256], sides[257]) if len(sides) == 2 else None


def _pnm(data: bytes) -> tuple[int, int] | None:
    match = _PNM.match(data[:1024])
    return (int(match.group(1)), int(match.group(2))) if match else None
