"""Reading and writing still images as RGB uint8 arrays, safely.

Everything that comes in is normalised to HxWx3 uint8 RGB: 16-bit images are
scaled down, grayscale is expanded and alpha is composited over white. Inputs
are bounded before they are decoded: at most `max_file_bytes()` are read from
a file or stdin, and the size the header declares must be within the pixel
limit (`stylize.sizes.max_pixels()`, $STYLIZE_MAX_PIXELS). Outputs
are encoded in memory, written to a temporary name beside the target and
renamed, so a failed or interrupted write never leaves a partial file.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from stylize.errors import InputError, OutputError
from stylize.headers import declared_size
from stylize.sizes import MAX_PIXELS_VARIABLE, check_pixels, max_file_bytes

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
MIN_SIDE = 16  # below this the encoders' pooling leaves nothing to stylize


@contextlib.contextmanager
def _captured_c_stderr():
    """Collect what C libraries print on fd 2 (libjpeg warns there, bypassing Python)."""
    captured: list[str] = []
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode(errors="replace"))


def _decode(data: bytes, label: str) -> np.ndarray:
    if not data:
        raise InputError(f"{label}: file is empty")
    if data[:2] == b"\xff\xd8" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        # libjpeg decodes a truncated JPEG with a grey tail and only a warning.
        raise InputError(f"{label}: JPEG is truncated or corrupt (no end-of-image marker)")
    size = declared_size(data)
    if size is not None:
        check_pixels(*size, f"{label}: the image", InputError)
    with _captured_c_stderr() as warnings:
        try:
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        except cv2.error:  # OpenCV's own header checks (a size beyond its limits) raise
            raise InputError(f"{label}: not a readable image (its header declares an impossible size, "
                             "or it is corrupt)") from None
    if "Corrupt JPEG data" in "".join(warnings):
        raise InputError(f"{label}: JPEG data is corrupt")
    if image is None:
        raise InputError(f"{label}: not a readable image (corrupt, or not an image format OpenCV knows)")
    return image


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """Any OpenCV-decoded image (BGR/BGRA/gray, 8/16-bit/float) → RGB uint8."""
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = image[:, :, None]
    channels = image.shape[2]
    if channels == 1:
        return np.repeat(image, 3, axis=2)
    if channels == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        over_white = image[:, :, :3].astype(np.float32) * alpha + 255.0 * (1 - alpha)
        image = (over_white + 0.5).astype(np.uint8)
    return np.ascontiguousarray(image[:, :, 2::-1])


def read_image(source: str | os.PathLike, min_side: int = MIN_SIDE) -> np.ndarray:
    """Read a file (or '-' for stdin) as HxWx3 uint8 RGB, or raise InputError."""
    label = "stdin" if str(source) == "-" else str(source)
    if str(source) == "-":
        data = read_limited(sys.stdin.buffer, label)
    else:
        path = Path(source)
        if not path.exists():
            raise InputError(f"{label}: no such file")
        if path.is_dir():
            raise InputError(f"{label}: is a directory, expected an image file")
        with path.open("rb") as handle:
            data = read_limited(handle, label)
    rgb = to_rgb8(_decode(data, label))
    height, width = rgb.shape[:2]
    if min(height, width) < min_side:
        raise InputError(f"{label}: image is {width}x{height}; at least {min_side}x{min_side} pixels are needed")
    return rgb


def read_limited(handle, label: str) -> bytes:
    """All of `handle`, or InputError once it passes `max_file_bytes()` (a device such as /dev/zero never ends)."""
    limit = max_file_bytes()
    data = handle.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{label}: more than {limit / 1e6:g} MB, larger than any image within the pixel limit "
                         f"can be; set {MAX_PIXELS_VARIABLE} to allow more")
    return data


def encode(rgb: np.ndarray, suffix: str) -> bytes:
    suffix = suffix.lower() or ".png"
    if suffix not in IMAGE_SUFFIXES:
        raise OutputError(f"cannot write {suffix!r} images; use one of {', '.join(sorted(IMAGE_SUFFIXES))}")
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if suffix in (".jpg", ".jpeg") else []
    ok, buffer = cv2.imencode(suffix, np.ascontiguousarray(rgb[:, :, ::-1]), params)
    if not ok:
        raise OutputError(f"could not encode the image as {suffix}")
    return buffer.tobytes()


def check_writable(target: str | os.PathLike) -> None:
    """Fail early (before any slow work) if `target` cannot be written."""
    if str(target) == "-":
        return
    path = Path(target)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise OutputError(f"{path}: unknown image extension; use one of {', '.join(sorted(IMAGE_SUFFIXES))}")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: output directory {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise OutputError(f"{path}: output directory {path.parent} is not writable")


def write_atomic(target: str | os.PathLike, data: bytes) -> None:
    """Write bytes to a temporary file beside `target`, then rename it into place.

    A target that exists and is not a regular file (/dev/null, a FIFO, a
    terminal) is written to directly: renaming over it would replace the
    device itself (as root, /dev/null would become a plain file). A write
    that fails (a full disk) raises OutputError and leaves `target` as it was.
    """
    path = Path(target)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name")
    if path.exists() and not path.is_file():
        with output_errors(path), open(path, "wb") as out:
            out.write(data)
        return
    if not path.parent.is_dir():
        raise OutputError(f"{path}: output directory {path.parent} does not exist")
    with output_errors(path):
        handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise


@contextlib.contextmanager
def output_errors(target: str | os.PathLike):
    """An OS refusal while writing (disk full, no permission) is one OutputError naming the target."""
    try:
        yield
    except OSError as exc:
        raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_image(target: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write RGB uint8 to a file (atomically) or to stdout as PNG for '-'."""
    if str(target) == "-":
        write_stdout(encode(rgb, ".png"))
        return
    write_atomic(target, encode(rgb, Path(target).suffix))


def write_stdout(data: bytes) -> None:
    """Write bytes to stdout; a stdout that refuses them (/dev/full, a closed pipe) raises OutputError."""
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except OSError as exc:
        # What stayed in the buffer would fail again, with a traceback, when Python flushes at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise OutputError(f"standard output: cannot write: {exc.strerror or exc}") from None


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def resize_short_side(rgb: np.ndarray, short_side: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = short_side / min(height, width)
    if abs(scale - 1) < 1e-6:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def resize_to(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    if rgb.shape[:2] == (height, width):
        return rgb
    shrink = height * width < rgb.shape[0] * rgb.shape[1]
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
