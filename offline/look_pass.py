"""The offline look pass: one shared look painted onto every keyframe by a slow method (Gatys, DiffStyler).

    settings = LookSettings(kind="gatys", styles=["starry.jpg"], size=384)
    painted = paint_keyframes("keys/", "looks/", settings)

The look folder gets `look.json` (the method, the keyframe folder, the style
images and every setting) and, per keyframe, `<stem>.png` (the painted frame,
the keyframe's size) and `<stem>.json` (the keyframe it comes from, its time,
the seconds it took). A frame whose PNG and JSON are both there is done: an
interrupted pass run again carries on with the frames left, and a pass with
other settings over the same folder is refused rather than mixed in.
`stylize distill --looks DIR` reads these folders.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from stylize.errors import InputError, OptionError
from stylize.imageio import IMAGE_SUFFIXES, list_images, read_image, resize_to, write_atomic, write_image
from stylize.jobs import as_mask, fit_long_side
from stylize.offline.keyframes import Keyframe, read_index

LOOK_INDEX = "look.json"
KINDS = ("gatys", "diffstyler")
MASK_MODES = ("person", "regions")


@dataclass(frozen=True)
class LookSettings:
    """Everything that decides what a painted keyframe looks like (recorded in look.json)."""

    kind: str  # one of KINDS
    styles: list[str]  # style image paths, resolved
    size: int | None = 384  # long side the method paints at (None: the keyframe's); the PNG keeps the keyframe's
    steps: list[int] | int | None = None  # Gatys: steps per scale (default gatys.DEFAULT_STEPS)
    style_weight: float | None = None  # Gatys: default per its style statistic
    mask_dir: str | None = None  # a folder of masks named like the keyframes (white = stylize)
    mask_mode: str | None = None  # "person" or "regions": masks made here
    seed: int = 0
    extra: dict = field(default_factory=dict)  # method-specific settings (DiffStyler's)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise OptionError(f"unknown look method {self.kind!r}; choose from {', '.join(KINDS)}")
        if not self.styles:
            raise OptionError("give the look's style: --style IMAGE or --style-dir DIR")
        if self.mask_dir and self.mask_mode:
            raise OptionError("give either --mask-dir or --mask-mode, not both")
        if self.mask_mode is not None and self.mask_mode not in MASK_MODES:
            raise OptionError(f"--mask-mode must be one of {', '.join(MASK_MODES)}, got {self.mask_mode!r}")


def style_paths(style: str | os.PathLike | None, style_dir: str | os.PathLike | None) -> list[str]:
    """The look's style images: one file, or every image in a folder, as resolved paths."""
    if bool(style) == bool(style_dir):
        raise OptionError("give the look's style as one of --style IMAGE or --style-dir DIR")
    if style:
        path = Path(style)
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            raise InputError(f"--style {path}: not an image file")
        return [str(path.resolve())]
    folder = Path(style_dir)
    if not folder.is_dir():
        raise InputError(f"--style-dir {folder}: not a folder")
    paths = list_images(folder)
    if not paths:
        raise InputError(f"--style-dir {folder}: no images in it")
    return [str(p.resolve()) for p in paths]


Painter = Callable[[np.ndarray, np.ndarray | None, Keyframe], np.ndarray]  # (content, mask, keyframe) -> RGB


def _settings_record(keyframes_dir: Path, settings: LookSettings) -> dict:
    return {"keyframes": str(keyframes_dir.resolve()), **dataclasses.asdict(settings)}


def _claim(out: Path, record: dict) -> None:
    """Start the look folder, or check that the pass in it had exactly these settings."""
    index = out / LOOK_INDEX
    if index.is_file():
        try:
            previous = json.loads(index.read_text())
        except (OSError, ValueError):
            raise InputError(f"{index}: not a look index; give a new folder") from None
        if previous != record:
            differ = sorted(k for k in {*previous, *record} if previous.get(k) != record.get(k))
            raise OptionError(f"{out} holds a look made with other settings ({', '.join(differ)}); "
                              "give a new folder, or the same options to carry on")
        return
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(index, json.dumps(record, indent=1).encode())


def is_done(out: Path, keyframe: Keyframe) -> bool:
    stem = Path(keyframe.file).stem
    return (out / f"{stem}.png").is_file() and (out / f"{stem}.json").is_file()


def _mask_for(settings: LookSettings, keyframe: Keyframe, rgb: np.ndarray,
              segmenter: Callable[[np.ndarray], np.ndarray] | None) -> np.ndarray | None:
    if settings.mask_dir:
        candidates = [Path(settings.mask_dir) / f"{Path(keyframe.file).stem}{s}" for s in (".png", ".jpg")]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise InputError(f"--mask-dir {settings.mask_dir}: no mask {candidates[0].name} for {keyframe.file}")
        return as_mask(found, *rgb.shape[:2])
    if segmenter is not None:
        return np.clip(segmenter(rgb), 0.0, 1.0).astype(np.float32)
    return None


def paint_keyframes(keyframes_dir: str | os.PathLike, out_dir: str | os.PathLike, settings: LookSettings,
                    painter: Painter, *, segmenter: Callable[[np.ndarray], np.ndarray] | None = None,
                    progress: bool = True) -> list[Keyframe]:
    """Paint every keyframe not yet done with `painter`; returns the keyframes painted by this call.

    painter(content, mask, keyframe) gets the keyframe shrunk to `settings.size` and returns the painting;
    it is written at the keyframe's own size. segmenter(rgb) -> HxW in [0,1] makes the masks of
    --mask-mode (None: user masks from `settings.mask_dir`, or none).
    """
    source, out = Path(keyframes_dir), Path(out_dir)
    frames = read_index(source)
    _claim(out, _settings_record(source, settings))
    todo = [k for k in frames if not is_done(out, k)]
    painted = []
    bar = tqdm(total=len(frames), initial=len(frames) - len(todo), desc=f"look {settings.kind}", unit="frame",
               disable=not progress, dynamic_ncols=True)
    with bar:
        for keyframe in todo:
            started = time.perf_counter()
            full = read_image(source / keyframe.file)
            content = fit_long_side(full, settings.size)
            mask = _mask_for(settings, keyframe, content, segmenter)
            result = painter(content, mask, keyframe)
            stem = Path(keyframe.file).stem
            write_image(out / f"{stem}.png", resize_to(result, *full.shape[:2]))
            record = {**dataclasses.asdict(keyframe), "keyframe": str((source / keyframe.file).resolve()),
                      "seconds": round(time.perf_counter() - started, 2)}
            write_atomic(out / f"{stem}.json", json.dumps(record, indent=1).encode())
            painted.append(keyframe)
            bar.update(1)
    return painted


@dataclass(frozen=True)
class PaintedPair:
    """One keyframe and its painting, from a look folder."""

    keyframe: Path
    look: Path
    time: float


def read_look(look_dir: str | os.PathLike) -> tuple[dict, list[PaintedPair]]:
    """A look folder's settings (look.json) and its finished keyframe/painting pairs, in frame order."""
    folder = Path(look_dir)
    try:
        record = json.loads((folder / LOOK_INDEX).read_text())
    except FileNotFoundError:
        raise InputError(f"{folder}: no {LOOK_INDEX}; make a look with `stylize look gatys --keyframes DIR "
                         f"--style IMG -o {folder}`") from None
    except (OSError, ValueError):
        raise InputError(f"{folder / LOOK_INDEX}: not a look index") from None
    keyframes = Path(record.get("keyframes", ""))
    pairs = [PaintedPair(keyframes / k.file, folder / f"{Path(k.file).stem}.png", k.time)
             for k in read_index(keyframes) if is_done(folder, k)]
    if not pairs:
        raise InputError(f"{folder}: no painted keyframes yet; run its `stylize look` pass first")
    return record, pairs


def gatys_painter(settings: LookSettings, device: str = "cpu", progress: bool = False) -> Painter:
    """Gatys with the look's styles through the VGG-19 encoder; a mask keeps the content where it is 0."""
    import torch

    from stylize.models import zoo
    from stylize.offline.gatys import gatys

    encoder = zoo.load_vgg().to(torch.device(device))
    styles = [read_image(path) for path in settings.styles]
    options = {k: v for k, v in {"steps": settings.steps, "style_weight": settings.style_weight}.items()
               if v is not None}
    if settings.mask_mode == "regions":
        raise OptionError("--mask-mode regions splits a frame between several styles, which is DiffStyler's; "
                          "Gatys takes one mask (--mask-dir or --mask-mode person)")

    def paint(content: np.ndarray, mask: np.ndarray | None, keyframe: Keyframe) -> np.ndarray:
        return gatys(content, styles, encoder=encoder, mask=mask, seed=settings.seed, progress=progress,
                     **options).image

    return paint


def person_segmenter() -> Callable[[np.ndarray], np.ndarray]:
    """The person-segmentation net as a mask maker: HxW probability of a person."""
    try:
        from stylize.realtime.segmentation import PersonSegmenter
    except ImportError:
        raise OptionError("--mask-mode person needs the person-segmentation net (stylize.realtime.segmentation), "
                          "which this build lacks; give --mask-dir with your own masks") from None
    return PersonSegmenter()


def diffstyler_painter(settings: LookSettings, sd_model: str | os.PathLike | None, device: str = "cpu") -> Painter:
    """DiffStyler (offline/diffstyler.py) on a user-supplied Stable Diffusion folder: one LoRA per style image,
    one mask per LoRA (a user mask, person and background, or automatic regions), unmasked regions kept."""
    if not sd_model:
        raise OptionError("look diffstyler needs --sd-model PATH: a diffusers-format Stable Diffusion folder "
                          "(none ships with stylize)")
    try:
        from stylize.offline import diffstyler
        from stylize.offline.regions import auto_regions
    except ImportError as exc:
        raise OptionError(f"look diffstyler needs the diffusion extra (pip install 'stylize[diffusion]'): "
                          f"{exc.name or exc} is missing") from None
    options = diffstyler.DiffStylerSettings(**{"size": settings.size or 512, "seed": settings.seed,
                                               **settings.extra})
    parts = diffstyler.load_pipeline(str(sd_model), device)
    loras = [diffstyler.train_style_lora(parts, [path], options, progress=False, name=Path(path).stem)
             for path in settings.styles]

    def paint(content: np.ndarray, mask: np.ndarray | None, keyframe: Keyframe) -> np.ndarray:
        if settings.mask_mode == "regions":
            masks = auto_regions(content, len(loras))
        elif settings.mask_mode == "person":
            masks = diffstyler.person_masks(content)[:len(loras)]
        else:
            masks = None if mask is None else [mask]
        return diffstyler.diffstyle(parts, content, loras[:len(masks)] if masks else loras, masks, options,
                                    progress=False)

    return paint
