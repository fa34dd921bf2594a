"""Inputs are bounded before they are decoded: declared picture sizes against the pixel limit, bytes read
against the byte limit; both refused with one line (InputError, exit 2) and raised by STYLIZE_MAX_PIXELS."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib

import cv2
import pytest

from helpers import REPO, run_cli, solid_rgb
from stylize.errors import InputError
from stylize.headers import declared_size
from stylize.imageio import read_image
from stylize.sizes import DEFAULT_MAX_PIXELS


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int, rows: int) -> bytes:
    """An 8-bit gray PNG declaring width x height whose first `rows` rows of zeros are really there."""
    compressor = zlib.compressobj(9)
    row_block = (b"\x00" + bytes(width)) * min(rows, 1000)
    body = b"".join(compressor.compress(row_block) for _ in range(max(1, rows // 1000))) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header is rewritten to declare width x height."""
    data = bytearray(cv2.imencode(".jpg", solid_rgb(32, 48))[1].tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def bmp_declaring(width: int, height: int) -> bytes:
    data = bytearray(cv2.imencode(".bmp", solid_rgb(32, 48))[1].tobytes())
    data[18:26] = struct.pack("<ii", width, -height)
    return bytes(data)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".webp", ".tif", ".ppm"])
def test_headers_tell_the_real_size_of_every_covered_format(suffix):
    data = cv2.imencode(suffix, solid_rgb(37, 53))[1].tobytes()
    assert declared_size(data) == (53, 37)


def test_a_decompression_bomb_png_is_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(30000, 30000, 30000))  # 900 MP of zeros in under a megabyte
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(InputError, match=r"30000x30000 \(900 megapixels\), above the limit of 150 megapixels"):
        read_image(bomb)


@pytest.mark.parametrize("forge", [lambda: png_bomb(65535, 65535, 1), lambda: jpeg_declaring(65535, 65535),
                                   lambda: bmp_declaring(60000, 60000)], ids=["png", "jpeg", "bmp"])
def test_impossible_declared_sizes_are_one_line_on_the_command_line(tmp_path, forge):
    bomb = tmp_path / "bomb.img"
    bomb.write_bytes(forge())
    result = run_cli("image", bomb, "--method", "candy", "-o", tmp_path / "out.png")
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert len(stderr.strip().splitlines()) == 1 and "megapixels" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "out.png").exists()


def test_the_pixel_limit_can_be_raised_and_lowered(tmp_path, monkeypatch):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), solid_rgb(100, 200))
    monkeypatch.setenv("STYLIZE_MAX_PIXELS", "19999")
    with pytest.raises(InputError, match="200x100 .* set STYLIZE_MAX_PIXELS"):
        read_image(photo)
    monkeypatch.setenv("STYLIZE_MAX_PIXELS", "20000")
    assert read_image(photo).shape == (100, 200, 3)
    bomb = tmp_path / "wide.png"
    bomb.write_bytes(png_bomb(DEFAULT_MAX_PIXELS // 16 + 16, 16, 16))  # just over the default
    monkeypatch.delenv("STYLIZE_MAX_PIXELS")
    with pytest.raises(InputError, match="megapixels"):
        read_image(bomb)


def test_an_endless_file_is_read_only_up_to_the_limit(monkeypatch):
    monkeypatch.setenv("STYLIZE_MAX_PIXELS", "1000000")  # 4 MB of bytes at most
    with pytest.raises(InputError, match=r"/dev/zero: more than 4 MB"):
        read_image("/dev/zero")


def test_endless_stdin_and_an_endless_style_are_one_line(tmp_path, content_path):
    small = {"STYLIZE_MAX_PIXELS": "1000000"}
    with open("/dev/zero", "rb") as zeros:
        result = subprocess.run([sys.executable, "-m", "stylize", "image", "-", "--method", "candy", "-o",
                                 str(tmp_path / "a.png")], stdin=zeros, capture_output=True, cwd=REPO,
                                env={**os.environ, **small}, timeout=300)
    assert result.returncode == 2 and result.stderr.decode().strip() == (
        "stylize image: error: stdin: more than 4 MB, larger than any image within the pixel limit can be; "
        "set STYLIZE_MAX_PIXELS to allow more")
    style = run_cli("image", content_path, "--style", "/dev/zero", "--method", "adain", "-o", tmp_path / "b.png",
                    env=small)
    stderr = style.stderr.decode()
    assert style.returncode == 2 and len(stderr.strip().splitlines()) == 1 and "/dev/zero: more than 4 MB" in stderr


def test_a_huge_size_on_a_small_photo_is_refused_before_resizing(content_path, tmp_path):
    result = run_cli("image", content_path, "--look", "starry-night", "--size", "100000", "-o", tmp_path / "o.png")
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "--size 100000" in lines[0] and "above the limit" in lines[0], lines
    assert not (tmp_path / "o.png").exists()
