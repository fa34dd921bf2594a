"""`stylize bench sketch`: curve-based sketch stylization against plain Gatys on line drawings.

For every drawing x painting pair (default 4 drawings of ../shared/data/sketches
x 2 paintings of ../shared/data/eval/style, at 512 px on the long side):

  line fidelity  L = the drawing's line pixels, S = the output's stroke pixels
                 (those differing clearly, > STROKE_CONTRAST, from the output's
                 paper: the median colour more than PAPER_DISTANCE px from L).
                 recall = share of L within 2 px of S; precision = share of S
                 within 3 px of L. Targets: recall >= 0.95, precision >= 0.85.
  style loss     VGG-19 mean/std loss at relu1_1, relu2_1, relu3_1 (as bench
                 quality) against the painting, over the output's stroke pixels
                 near the lines: S within PRECISION_PX of L, the same mask rule
                 for every method. A method that also paints the paper (Gatys)
                 is not scored on that paper; S over the whole page is kept as
                 style_loss_all_strokes. Ratios: over the plain drawing's lines L
                 (target <= 0.6) and over Gatys's (target: Gatys's range, <= 1.5).
  time           seconds per pair (curve extraction included), with the
                 number of curves.

Plain Gatys (offline/gatys.py, its defaults but the steps) on the same pairs
is the baseline row. Results: sketch.json and sketch.png, a grid with a row
per drawing: drawing | curves | Gatys | ours, for each painting.
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from stylize.bench import report
from stylize.errors import UserError
from stylize.imageio import read_image
from stylize.jobs import fit_long_side
from stylize.models import losses, zoo
from stylize.offline import curves
from stylize.offline.sketch import STYLE_LAYERS, SketchSettings, curves_result, stylize_sketch
from stylize.tensors import frame_to_tensor

DATA = Path("..") / "shared" / "data"
SKETCHES = ("tuxpaint_old_soviet_car", "tuxpaint_hat", "tuxpaint_jetplane", "tuxpaint_chicken")
STYLES = ("gordic_vg_starry_night", "jcj_wave")
STROKE_CONTRAST = 0.2  # max-channel difference from the paper that makes a pixel a stroke
PAPER_DISTANCE = 6  # px from the lines beyond which a pixel is paper
RECALL_PX, PRECISION_PX = 2, 3
TILE_HEIGHT = 132


@dataclass
class Settings:
    sketches_dir: Path = DATA / "sketches"
    styles_dir: Path = DATA / "eval" / "style"
    sketches: tuple[str, ...] = SKETCHES
    styles: tuple[str, ...] = STYLES
    size: int = 512
    steps: tuple[int, ...] = (60, 40)
    gatys_steps: tuple[int, ...] = (60, 40)
    background: str = "paper"
    seed: int = 0


@dataclass
class Pair:
    sketch: str
    style: str
    curves: int
    segments: int
    ours: dict = field(default_factory=dict)
    gatys: dict = field(default_factory=dict)
    plain_style_loss: float = 0.0


def fidelity(output: np.ndarray, lines: np.ndarray) -> dict:
    """Recall and precision of the output's strokes against the drawing's line mask (bool HxW)."""
    to_lines = cv2.distanceTransform((~lines).astype(np.uint8), cv2.DIST_L2, 5)
    paper = np.median(output[to_lines > PAPER_DISTANCE], axis=0) if (to_lines > PAPER_DISTANCE).any() else 255
    strokes = np.abs(output.astype(np.float32) - paper).max(axis=2) > STROKE_CONTRAST * 255
    if not strokes.any():
        return {"recall": 0.0, "precision": 0.0, "strokes": strokes}
    to_strokes = cv2.distanceTransform((~strokes).astype(np.uint8), cv2.DIST_L2, 5)
    return {"recall": float(np.mean(to_strokes[lines] <= RECALL_PX)),
            "precision": float(np.mean(to_lines[strokes] <= PRECISION_PX)), "strokes": strokes}


@torch.no_grad()
def region_style_loss(vgg, image: np.ndarray, region: np.ndarray, target: dict) -> float:
    """Mean/std style loss of `image` over the pixels of `region` (bool HxW) against `target`."""
    feats = vgg.taps(frame_to_tensor(image), list(STYLE_LAYERS))
    mask = torch.from_numpy(region.astype(np.float32))[None, None]
    return float(losses.mean_std_style_loss(feats, target, mask=mask))


@torch.no_grad()
def style_target(vgg, style: np.ndarray) -> dict:
    feats = vgg.taps(frame_to_tensor(style), list(STYLE_LAYERS))
    return {name: losses.mean_std(feats[name]) for name in STYLE_LAYERS}


def _load(folder: Path, names: tuple[str, ...], size: int) -> dict[str, np.ndarray]:
    found = {}
    for name in names:
        matches = sorted(folder.glob(f"{name}.*"))
        if not matches:
            raise UserError(f"{folder}/{name}.*: not found (run from the repository root with ../shared beside it)")
        found[name] = fit_long_side(read_image(matches[0]), size)
    return found


def _score(vgg, output: np.ndarray, lines: np.ndarray, target: dict, seconds: float) -> dict:
    measured = fidelity(output, lines)
    strokes = measured.pop("strokes")
    near = strokes & (cv2.distanceTransform((~lines).astype(np.uint8), cv2.DIST_L2, 5) <= PRECISION_PX)
    styles = [region_style_loss(vgg, output, region, target) if region.any() else float("nan")
              for region in (near, strokes)]
    return {**measured, "style_loss": styles[0], "style_loss_all_strokes": styles[1], "seconds": round(seconds, 2)}


def _run_pair(vgg, settings: Settings, drawing: np.ndarray, style: np.ndarray, target: dict) -> tuple[dict, dict,
                                                                                                      np.ndarray, np.ndarray]:
    """(ours, gatys) scores and pictures for one drawing x painting."""
    from stylize.offline.gatys import gatys

    lines = curves.binarise(curves.to_gray(drawing))
    started = time.perf_counter()
    strokes = curves.extract(drawing)
    ours = stylize_sketch(drawing, [style], encoder=vgg, strokes=strokes, progress=False,
                          settings=SketchSettings(background=settings.background, steps=settings.steps,
                                                  seed=settings.seed))
    ours_score = _score(vgg, ours.image, lines, target, time.perf_counter() - started)
    started = time.perf_counter()
    baseline = gatys(drawing, [style], encoder=vgg, steps=settings.gatys_steps, scales=len(settings.gatys_steps),
                     style_stat="meanstd", seed=settings.seed, progress=False).image
    gatys_score = _score(vgg, baseline, lines, target, time.perf_counter() - started)
    return ours_score, gatys_score, ours.image, baseline


def run(settings: Settings, out: str | None = None, write: bool = True, progress: bool = True) -> dict:
    vgg = zoo.load_vgg()
    drawings = _load(settings.sketches_dir, settings.sketches, settings.size)
    styles = _load(settings.styles_dir, settings.styles, settings.size)
    targets = {name: style_target(vgg, rgb) for name, rgb in styles.items()}
    pairs, pictures = [], {}
    started = time.perf_counter()
    with tqdm(total=len(drawings) * len(styles), desc="bench sketch", unit="pair", file=sys.stderr,
              disable=not progress) as bar:
        for sketch_name, drawing in drawings.items():
            strokes = curves.extract(drawing)
            pictures[sketch_name, "curves"] = curves_result(drawing, strokes).image
            lines = curves.binarise(curves.to_gray(drawing))
            for style_name, style in styles.items():
                pair = Pair(sketch_name, style_name, len(strokes), sum(s.segments for s in strokes))
                pair.plain_style_loss = region_style_loss(vgg, drawing, lines, targets[style_name])
                pair.ours, pair.gatys, *images = _run_pair(vgg, settings, drawing, style, targets[style_name])
                pictures[sketch_name, style_name, "ours"], pictures[sketch_name, style_name, "gatys"] = images
                pairs.append(pair)
                bar.update(1)
    result = {"bench": "sketch", "machine": report.machine(), "settings": _settings_json(settings),
              "wall_seconds": round(time.perf_counter() - started, 1), "pairs": [asdict(p) for p in pairs],
              "summary": summarise(pairs)}
    if write:
        folder = report.results_dir(out)
        result["files"] = [str(folder / "sketch.json"), str(folder / "sketch.png")]
        write_grid(folder / "sketch.png", results_grid(drawings, styles, pictures))
        report.write_json(folder / "sketch.json", result)
    return result


def _settings_json(settings: Settings) -> dict:
    return {key: (str(value) if isinstance(value, Path) else value) for key, value in asdict(settings).items()}


def summarise(pairs: list[Pair]) -> dict:
    """Means over the pairs per method, the style ratios to the plain drawing and ours to Gatys, the targets."""
    summary = {}
    for method in ("ours", "gatys"):
        rows = [getattr(p, method) for p in pairs]
        ratios = [row["style_loss"] / p.plain_style_loss for row, p in zip(rows, pairs) if p.plain_style_loss > 0]
        summary[method] = {"recall": float(np.mean([r["recall"] for r in rows])),
                           "precision": float(np.mean([r["precision"] for r in rows])),
                           "style_loss": float(np.nanmean([r["style_loss"] for r in rows])),
                           "style_loss_all_strokes": float(np.nanmean([r["style_loss_all_strokes"] for r in rows])),
                           "style_vs_plain": float(np.nanmean(ratios)),
                           "seconds": float(np.mean([r["seconds"] for r in rows]))}
    summary["plain_style_loss"] = float(np.mean([p.plain_style_loss for p in pairs]))
    summary["curves"] = float(np.mean([p.curves for p in pairs]))
    ours = summary["ours"]
    ours["style_vs_gatys"] = ours["style_loss"] / summary["gatys"]["style_loss"]
    ours["style_all_strokes_vs_gatys"] = ours["style_loss_all_strokes"] / summary["gatys"]["style_loss_all_strokes"]
    summary["targets"] = {"recall >= 0.95": ours["recall"] >= 0.95, "precision >= 0.85": ours["precision"] >= 0.85,
                          "style <= 0.6x plain": ours["style_vs_plain"] <= 0.6,
                          "style <= 1.5x Gatys": ours["style_vs_gatys"] <= 1.5}
    return summary


def _tile(rgb: np.ndarray, width: int) -> np.ndarray:
    height = TILE_HEIGHT
    fitted = fit_long_side(rgb, max(1, round(min(width / rgb.shape[1], height / rgb.shape[0]) * max(rgb.shape[:2]))))
    tile = np.full((height, width, 3), 255, np.uint8)
    y, x = (height - fitted.shape[0]) // 2, (width - fitted.shape[1]) // 2
    tile[y:y + fitted.shape[0], x:x + fitted.shape[1]] = fitted
    return tile


def results_grid(drawings: dict, styles: dict, pictures: dict) -> np.ndarray:
    """A row per drawing: drawing | curves | then Gatys | ours for each painting; a top row shows the paintings."""
    width = round(TILE_HEIGHT * 4 / 3)
    header = [np.full((TILE_HEIGHT, width, 3), 255, np.uint8)] * 2
    for style in styles.values():
        header += [np.full((TILE_HEIGHT, width, 3), 255, np.uint8), _tile(style, width)]
    rows = [np.concatenate(header, axis=1)]
    for name, drawing in drawings.items():
        row = [_tile(drawing, width), _tile(pictures[name, "curves"], width)]
        for style_name in styles:
            row += [_tile(pictures[name, style_name, "gatys"], width), _tile(pictures[name, style_name, "ours"], width)]
        rows.append(np.concatenate(row, axis=1))
    return np.concatenate(rows, axis=0)


def write_grid(path: Path, rgb: np.ndarray) -> None:
    """The grid as a 256-colour PNG: painted tiles would make a full-colour one too big to commit."""
    from PIL import Image

    Image.fromarray(rgb).quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)


def format_result(result: dict) -> str:
    summary = result["summary"]
    lines = [f"{'method':8} {'recall':>7} {'precision':>9} {'style':>8} {'all S':>8} {'vs plain':>9} {'s/pair':>7}"]
    for method in ("ours", "gatys"):
        row = summary[method]
        lines.append(f"{method:8} {row['recall']:7.3f} {row['precision']:9.3f} {row['style_loss']:8.3f} "
                     f"{row['style_loss_all_strokes']:8.3f} {row['style_vs_plain']:9.2f} {row['seconds']:7.1f}")
    lines.append(f"ours / Gatys style: {summary['ours']['style_vs_gatys']:.2f} near the lines, "
                 f"{summary['ours']['style_all_strokes_vs_gatys']:.2f} over all strokes")
    lines.append(f"plain drawing style loss {summary['plain_style_loss']:.3f}; {summary['curves']:.0f} curves a "
                 f"drawing; targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}"
                                                    for k, v in summary["targets"].items()))
    return "\n".join(lines)
