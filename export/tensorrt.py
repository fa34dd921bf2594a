"""TensorRT engines built from the exported ONNX graphs (NVIDIA GPUs only).

    profiles = parse_profiles("480p,720p,1080p")      # pure arithmetic, see below
    path = build_engine("model.onnx", "model.engine", profiles, fp16=True)
    path = cached_engine(method, net, fp16=True)        # built once per GPU, TensorRT version and graph

Written against the TensorRT 10 Python API (`tensorrt.Builder`,
`IBuilderConfig.set_memory_pool_limit`, `create_optimization_profile`,
`build_serialized_network`, the timing cache) and never run here: no machine
stylize is developed on has both a GPU and room for the TensorRT wheels (see
the README's "Export" section). What runs without TensorRT is tested: the
profile arithmetic, the cache key and the refusal message.

Optimisation profiles: one per size named, each from MIN_SIDE x MIN_SIDE up to
that size with the named size as its optimum. A frame runs on the smallest
profile that holds it (`choose_profile`), so a 720p camera gets kernels
tuned for 720p and a 480p one kernels tuned for 480p, in one engine.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from stylize.errors import OptionError, UserError
from stylize.sizes import parse_wxh

TENSORRT_EXTRA = 'pip install "stylize[tensorrt]"'
# Named sizes (width, height); any WIDTHxHEIGHT works too.
NAMED_SIZES = {"240p": (320, 240), "360p": (640, 360), "480p": (640, 480), "720p": (1280, 720),
               "1080p": (1920, 1080), "1440p": (2560, 1440), "2160p": (3840, 2160)}
DEFAULT_PROFILES = "480p,720p,1080p"
MIN_SIDE = 16  # the smallest frame side a profile accepts
MAX_SIDE = 8192  # the largest frame side a profile may name
WORKSPACE_BYTES = 4 << 30  # the builder's scratch memory for trying tactics
CONTENT = "content"  # the graph convention (export/onnx.py): the one input with a dynamic shape
ENGINE_FORMAT = 1  # bump when the way engines are built changes, so cached engines are rebuilt

log = logging.getLogger(__name__)


def import_tensorrt():
    """The tensorrt module, or an OptionError that names the extra to install, in one line."""
    try:
        import tensorrt
    except ImportError:
        raise OptionError(f"TensorRT is not installed; {TENSORRT_EXTRA}") from None
    return tensorrt


# ---------------------------------------------------------------- profiles --
@dataclass(frozen=True)
class Profile:
    """One optimisation profile: the content input's smallest, best and largest (height, width)."""

    min: tuple[int, int]
    opt: tuple[int, int]
    max: tuple[int, int]

    def holds(self, height: int, width: int) -> bool:
        return self.min[0] <= height <= self.max[0] and self.min[1] <= width <= self.max[1]

    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """(min, opt, max) as 1x3xHxW shapes, the form `IOptimizationProfile.set_shape` takes."""
        return tuple((1, 3, *hw) for hw in (self.min, self.opt, self.max))


def parse_profiles(text: str) -> list[Profile]:
    """'480p,720p,1080p' or '640x480,1280x720' -> profiles, smallest first; OptionError on a bad list."""
    sizes = set()
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        width, height = NAMED_SIZES.get(part.lower()) or parse_wxh(part, "--profiles", minimum=MIN_SIDE)
        if max(width, height) > MAX_SIDE:
            raise OptionError(f"--profiles: {part} is larger than {MAX_SIDE} pixels on a side")
        sizes.add((height, width))
    if not sizes:
        raise OptionError(f"--profiles needs at least one size, e.g. {DEFAULT_PROFILES}")
    return [Profile((MIN_SIDE, MIN_SIDE), size, size) for size in sorted(sizes, key=lambda hw: (hw[0] * hw[1], hw))]


def fixed_profile(height: int, width: int) -> list[Profile]:
    """The one profile of a fixed-size graph (Engstrom nets): exactly its size."""
    return [Profile((height, width), (height, width), (height, width))]


def choose_profile(profiles: Sequence[Profile], height: int, width: int) -> int:
    """The index of the smallest profile that holds a height x width frame; UserError when none does."""
    fitting = [i for i, p in enumerate(profiles) if p.holds(height, width)]
    if not fitting:
        largest = max(profiles, key=lambda p: p.max[0] * p.max[1]).max
        raise UserError(f"a {width}x{height} frame is outside this TensorRT engine's profiles (up to "
                        f"{largest[1]}x{largest[0]}); rebuild it with a larger --profiles size")
    return min(fitting, key=lambda i: profiles[i].max[0] * profiles[i].max[1])


# ------------------------------------------------------------------- cache --
def file_digest(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def engine_key(gpu_name: str, tensorrt_version: str, onnx_digest: str, fp16: bool,
               profiles: Sequence[Profile]) -> str:
    """The engine cache key: an engine is only valid for the GPU model and TensorRT version that built it,
    and only for its graph, precision and profiles."""
    text = "|".join([str(ENGINE_FORMAT), gpu_name, tensorrt_version, onnx_digest, "fp16" if fp16 else "fp32",
                     ";".join(f"{p.min}{p.opt}{p.max}" for p in profiles)])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def engine_cache_path(method: str, key: str) -> Path:
    from stylize.models import weights

    return weights.cache_dir() / "tensorrt" / f"{method}-{key}.engine"


def timing_cache_path(gpu_name: str, tensorrt_version: str) -> Path:
    """One timing cache per GPU model and TensorRT version, shared by every build: later builds of any net
    skip the tactic timings already measured."""
    from stylize.models import weights

    safe = "".join(c if c.isalnum() else "-" for c in f"{gpu_name}-{tensorrt_version}")
    return weights.cache_dir() / "tensorrt" / f"timing-{safe}.cache"


def gpu_name() -> str:
    import torch

    if not torch.cuda.is_available():
        raise OptionError("a TensorRT engine is built on the NVIDIA GPU it will run on, and none is visible")
    return torch.cuda.get_device_name()


# ------------------------------------------------------------------- build --
def build_engine(onnx_path: str | os.PathLike, target: str | os.PathLike, profiles: Sequence[Profile],
                 fp16: bool = True, timing_cache: str | os.PathLike | None = None,
                 workspace_bytes: int = WORKSPACE_BYTES) -> Path:
    """Parse the ONNX graph, build a serialized engine with `profiles`, and write it to `target` atomically.

    `timing_cache`: a file read before the build (when present) and rewritten after it.
    """
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise UserError(f"{onnx_path}: TensorRT cannot parse this graph ({errors})")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    cache_file = Path(timing_cache) if timing_cache else None
    blob = cache_file.read_bytes() if cache_file and cache_file.is_file() else b""
    config.set_timing_cache(config.create_timing_cache(blob), ignore_mismatch=False)
    if _has_dynamic_content(network):  # a fixed-size graph (Engstrom) takes no profile
        for profile in profiles:
            shapes = builder.create_optimization_profile()
            shapes.set_shape(CONTENT, *profile.shapes())
            config.add_optimization_profile(shapes)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise UserError(f"{onnx_path}: TensorRT could not build an engine (its log above says why)")
    if cache_file is not None:
        _write_atomically(cache_file, memoryview(config.get_timing_cache().serialize()))
    return _write_atomically(Path(target), memoryview(serialized))


def _has_dynamic_content(network) -> bool:
    for index in range(network.num_inputs):
        tensor = network.get_input(index)
        if tensor.name == CONTENT:
            return any(side < 0 for side in tensor.shape)
    raise UserError(f"the graph has no {CONTENT!r} input; export it with `stylize export onnx`")


def _write_atomically(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def cached_engine(method: str, net=None, *, fp16: bool = True, profiles: Sequence[Profile] | None = None,
                  size: tuple[int, int] | None = None) -> tuple[Path, list[Profile]]:
    """The engine file for `method` on this GPU, built on first use from the cached ONNX export.

    Returns the path and the profiles it was built with (a fixed-size graph: its one size).
    """
    from stylize.export import onnx as onnx_export

    trt = import_tensorrt()
    onnx_path = onnx_export.cached_onnx(method, net=net, size=size)
    if not onnx_export.is_dynamic(method):
        profiles = fixed_profile(*(size or onnx_export.EXPORT_SIZE))
    profiles = list(profiles or parse_profiles(DEFAULT_PROFILES))
    gpu = gpu_name()
    path = engine_cache_path(method, engine_key(gpu, trt.__version__, file_digest(onnx_path), fp16, profiles))
    if not path.is_file():
        log.warning("stylize: building a TensorRT engine for %s (once per GPU and graph; minutes)", method)
        build_engine(onnx_path, path, profiles, fp16, timing_cache_path(gpu, trt.__version__))
    return path, profiles
