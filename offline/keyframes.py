"""Keyframes of a video: the first frame of each shot, and enough frames in between that none is far off.

    index = extract_keyframes("clip.mp4", "keys/", max_frames=12, min_gap_s=0.5, max_gap_s=2.0)

A cut is where consecutive frames differ in their colour histograms (the
Bhattacharyya distance of their hue-saturation histograms) or in their
structure (the SSIM of their small grey thumbnails): the histogram catches a
cut between two shots of similar layout, SSIM one between two of similar
palette. Frames are analysed in a first pass on thumbnails and the chosen
ones decoded again at full size in a second, so a long video never sits in
memory. Decoding is the file job's (stylize.jobs.open_video), so every video
`stylize video` reads works here. The folder gets `key_NNNNNN.png` (NNNNNN =
frame number) and `keyframes.json`: the source, its fps and, per keyframe,
its file, frame number, time in seconds and why it was chosen.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from stylize.errors import InputError, OptionError
from stylize.imageio import write_atomic, write_image
from stylize.jobs import open_video

INDEX_NAME = "keyframes.json"
THUMB_SIDE = 96  # long side of the analysis thumbnails: enough for shot structure, cheap to compare
HIST_CUT = 0.45  # Bhattacharyya distance of HS histograms above which two frames belong to different shots
SSIM_CUT = 0.35  # SSIM of grey thumbnails below which two frames belong to different shots
MAX_KEYFRAMES = 1000  # --max is bounded: every keyframe is a full-size PNG


@dataclass(frozen=True)
class Keyframe:
    file: str  # PNG file name inside the keyframes folder
    frame: int  # 0-based frame number in the video
    time: float  # seconds in the video's timeline
    reason: str  # "start", "cut" or "gap" (the maximum spacing)
    score: float = 0.0  # how strong the cut was (0 for start and gap frames)


@dataclass(frozen=True)
class _Features:
    hist: np.ndarray
    grey: np.ndarray


def _features(rgb: np.ndarray) -> _Features:
    height, width = rgb.shape[:2]
    factor = THUMB_SIDE / max(height, width)
    thumb = cv2.resize(rgb, (max(8, round(width * factor)), max(8, round(height * factor))),
                       interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(thumb, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256])
    cv2.normalize(hist, hist, 1.0, 0.0, cv2.NORM_L1)
    return _Features(hist, cv2.cvtColor(thumb, cv2.COLOR_RGB2GRAY).astype(np.float32))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of two grey images (0-255 floats), Gaussian window of sigma 1.5."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x):
        return cv2.GaussianBlur(x, (7, 7), 1.5)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    index = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(index.mean())


def cut_score(before: _Features, after: _Features) -> float:
    """How far past either threshold the change between two frames goes; above 0 is a cut."""
    hist = cv2.compareHist(before.hist, after.hist, cv2.HISTCMP_BHATTACHARYYA) / HIST_CUT
    structure = (1 - ssim(before.grey, after.grey)) / (1 - SSIM_CUT)
    return max(hist, structure) - 1.0


def _scan(video, min_gap_s: float, max_gap_s: float, progress: bool) -> list[Keyframe]:
    """Pass one: every frame's thumbnail against the previous one; start, cut and gap frames."""
    chosen: list[Keyframe] = []
    previous = None
    with tqdm(total=video.frame_count, desc="keyframes: scan", unit="frame", disable=not progress,
              leave=False) as bar:
        for frame in video:
            features = _features(frame.image)
            time = frame.pts if frame.pts is not None else frame.index / video.fps
            since = time - chosen[-1].time if chosen else None
            score = cut_score(previous, features) if previous is not None else 0.0
            if since is None:
                chosen.append(Keyframe(_name(frame.index), frame.index, time, "start"))
            elif score > 0 and since >= min_gap_s:
                chosen.append(Keyframe(_name(frame.index), frame.index, time, "cut", round(score, 4)))
            elif since >= max_gap_s:
                chosen.append(Keyframe(_name(frame.index), frame.index, time, "gap"))
            previous = features
            bar.update(1)
    return chosen


def _name(index: int) -> str:
    return f"key_{index:06d}.png"


def _trim(chosen: list[Keyframe], max_frames: int) -> list[Keyframe]:
    """At most `max_frames`: the start, then the strongest cuts, then gap frames spread evenly."""
    if len(chosen) <= max_frames:
        return chosen
    start, rest = chosen[:1], chosen[1:]
    cuts = sorted((k for k in rest if k.reason == "cut"), key=lambda k: -k.score)[:max_frames - 1]
    gaps = [k for k in rest if k.reason != "cut"]
    room = max_frames - 1 - len(cuts)
    if room > 0 and gaps:
        picks = np.linspace(0, len(gaps) - 1, room).round().astype(int)
        cuts += [gaps[i] for i in sorted(set(picks.tolist()))]
    return sorted(start + cuts, key=lambda k: k.frame)


def check_spacing(max_frames: int, min_gap_s: float, max_gap_s: float) -> None:
    if not 1 <= max_frames <= MAX_KEYFRAMES:
        raise OptionError(f"--max must be between 1 and {MAX_KEYFRAMES}, got {max_frames}")
    if not (min_gap_s >= 0 and max_gap_s > 0):
        raise OptionError("--min-gap-s must be at least 0 and --max-gap-s positive")
    if min_gap_s > max_gap_s:
        raise OptionError(f"--min-gap-s {min_gap_s:g} is larger than --max-gap-s {max_gap_s:g}")


def extract_keyframes(video_path: str | os.PathLike, out_dir: str | os.PathLike, *, max_frames: int = 24,
                      min_gap_s: float = 0.5, max_gap_s: float = 2.0, size: int | None = None,
                      progress: bool = True) -> list[Keyframe]:
    """Choose the keyframes of `video_path` and write them as PNGs with `keyframes.json` into `out_dir`.

    min_gap_s: no two keyframes closer than this (a flash or a fast pan is not a cut every frame).
    max_gap_s: a keyframe at least this often, cuts or not. size: long side of the PNGs (default: the video's).
    """
    check_spacing(max_frames, min_gap_s, max_gap_s)
    out = Path(out_dir)
    if (out / INDEX_NAME).exists():
        raise OptionError(f"{out / INDEX_NAME} exists already; give a new folder")
    source = Path(video_path)
    with open_video(source, size) as video:
        chosen = _trim(_scan(video, min_gap_s, max_gap_s, progress), max_frames)
        fps = video.fps
    wanted = {k.frame: k for k in chosen}
    out.mkdir(parents=True, exist_ok=True)
    with open_video(source, size) as video:
        for frame in tqdm(video, total=max(wanted) + 1, desc="keyframes: write", unit="frame",
                          disable=not progress, leave=False):
            if frame.index in wanted:
                write_image(out / wanted[frame.index].file, frame.image)
            if frame.index >= max(wanted):
                break
    index = {"source": str(source.resolve()), "fps": fps, "keyframes": [asdict(k) for k in chosen]}
    write_atomic(out / INDEX_NAME, json.dumps(index, indent=1).encode())
    return chosen


def read_index(folder: str | os.PathLike) -> list[Keyframe]:
    """The keyframes a folder's `keyframes.json` lists, each checked to exist."""
    folder = Path(folder)
    try:
        entries = json.loads((folder / INDEX_NAME).read_text())["keyframes"]
        frames = [Keyframe(**entry) for entry in entries]
    except FileNotFoundError:
        raise InputError(f"{folder}: no {INDEX_NAME} here; make one with `stylize keyframes VIDEO -o {folder}`") \
            from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{folder / INDEX_NAME}: not a keyframe index ({exc})") from None
    missing = [k.file for k in frames if not (folder / k.file).is_file()]
    if missing:
        raise InputError(f"{folder}: keyframe {missing[0]} listed in {INDEX_NAME} is missing")
    return frames
