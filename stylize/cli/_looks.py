"""Shared by `image`, `live` and `video`: the look options, turned into Looks (stylize.api) and an engine."""
from __future__ import annotations

import argparse
import sys

from stylize import api
from stylize.errors import OptionError
from stylize.jobs import backend_label  # noqa: F401 (live and video print it)
from stylize.models import looks as builtin_looks
from stylize.models import registry, weights
from stylize.models.color import COLOR_MODES
from stylize.realtime import backends, segmentation, work_size
from stylize.realtime.engines import Engine, Look
from stylize.realtime.temporal import DEFAULT_STRENGTH, MAX_STRENGTH, TemporalSmoother
from stylize.realtime.masks import FEATHER, MASK_MODES, SMOOTHING, check_mask_options, engine_device, live_mask
from stylize.sizes import finite_float


def add_look_options(parser, several: bool, gatys: bool = False) -> None:
    """--method, --style, --look, --net, --alpha, --preserve-color, --size and --backend."""
    each = "; several, comma-separated, give looks to switch between" if several else ""
    slow = ", or gatys (slow optimisation, best quality)" if gatys else ""
    group = parser.add_argument_group("what it looks like")
    group.add_argument("--method", help=f"a fast net ({', '.join(registry.fast_methods())}), or the arbitrary-style "
                                        f"net for --style and --look ({', '.join(registry.arbitrary_methods())}; "
                                        f"default {registry.DEFAULT_METHOD}){slow}{each}")
    group.add_argument("--style", help=f"painting image(s) for an arbitrary-style net{each}")
    group.add_argument("--look", help=f"built-in look(s) by name (see `stylize looks`){each}")
    group.add_argument("--net", metavar="NET.pt", help=f"a distilled look, the file `stylize distill` wrote "
                                                       f"(its NET.pt.json beside it){each}")
    group.add_argument("--alpha", type=finite_float, default=1.0, help="0 = the original picture, 1 = full style (default 1)")
    group.add_argument("--preserve-color", nargs="?", const="luminance", choices=COLOR_MODES,
                       help="keep the original colours: 'luminance' (the default) takes only the style's "
                            "brightness patterns; 'match' recolours the stylized picture to the original's palette")
    group.add_argument("--size", type=int, help="long side of the stylized picture in pixels "
                                                "(default: the source's size)")
    group.add_argument("--backend", choices=api.BACKENDS,
                       help="how the net runs: torch (CUDA when available, else CPU), onnxruntime (the exported "
                            "graph; CUDA/TensorRT providers when present, else CPU) or tensorrt (NVIDIA GPUs); "
                            "auto (the default) picks the fastest present; given explicitly, it says which")


def split(text: str | None) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()] if text else []


def check_common(args) -> None:
    api.check_options(args.alpha, args.size, args.backend or backends.AUTO, args.preserve_color)


def build_looks(args, several: bool) -> list[Look]:
    """The looks asked for by --method/--style/--look, validated; style images are read here, nets load later."""
    styles, names, methods = split(args.style), split(args.look), split(args.method)
    if getattr(args, "net", None):
        return _net_looks(split(args.net), several, bool(styles or names or methods))
    if styles and names:
        raise OptionError("give either a look (--look) or a style (--style), not both")
    if not several and max(len(styles), len(names), len(methods)) > 1:
        raise OptionError("one look at a time here: give a single --style, --look or --method")
    if api.GATYS in methods:
        raise OptionError("gatys optimises single pictures (stylize image); video and live need a net")
    if styles or names:
        if len(methods) > 1:
            raise OptionError("with --style or --look give one --method (an arbitrary-style net)")
        method = methods[0] if methods else None
        if names:
            return [api.make_look(method, look=name) for name in names]
        return [api.make_look(method, style=path) for path in styles]
    if not methods and several:
        # `stylize live` with nothing named: the built-in looks, else every fast net that is here.
        if builtin_looks.names():
            return [api.look(name) for name in builtin_looks.names()]
        methods = [name for name in registry.fast_methods() if weights.find(name)]
    if not methods:
        return [api.make_look(None)]  # raises: nothing to stylize with
    return [api.make_look(method) for method in methods]


def _net_looks(paths: list[str], several: bool, other_look: bool) -> list[Look]:
    """The looks of distilled net files, each registered (sha256-checked when it loads)."""
    if other_look:
        raise OptionError("--net is a whole look: give it without --method, --style or --look")
    if not several and len(paths) > 1:
        raise OptionError("one look at a time here: give a single --net")
    return [api.make_look(api.load_net(path)) for path in paths]


def make_engine(args) -> Engine:
    """The engine for --backend, set to --alpha, --preserve-color and --work-size; an explicit
    `--backend auto` says what it chose."""
    engine = api.new_engine(args.backend or backends.AUTO, args.alpha, args.preserve_color,
                            getattr(args, "work_size", None))
    if args.backend == backends.AUTO:
        print(f"stylize: --backend auto chose {backend_label(engine)}", file=sys.stderr)
    return engine


def add_work_size_option(group, default: str) -> None:
    """--work-size auto|full|WxH: how many pixels the net paints of a larger frame (realtime/work_size.py)."""
    budget = "x".join(map(str, work_size.DEFAULT_SIZE))
    group.add_argument("--work-size", type=_work_size, default=work_size.parse(default), metavar="auto|full|WxH",
                       help=f"paint frames larger than this many pixels (WxH's area, aspect kept) at that size and "
                            f"add back the frame's own detail at full size: much faster for large frames. auto: "
                            f"{budget} on the CPU, full on a GPU; full: every pixel (default {default})")


def _work_size(text: str):
    try:
        return work_size.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_smoothing_option(group) -> None:
    """--temporal-smoothing [STRENGTH], for the verbs that stylize video (live, video)."""
    group.add_argument("--temporal-smoothing", type=finite_float, nargs="?", const=DEFAULT_STRENGTH,
                       metavar="STRENGTH",
                       help=f"tame flicker: blend the previous stylized frame, carried along the optical flow, "
                            f"into each new one where the flow is reliable (0 to {MAX_STRENGTH}; without a "
                            f"value {DEFAULT_STRENGTH}); off by default")


def make_smoother(args) -> TemporalSmoother | None:
    """The smoother --temporal-smoothing asks for (None: off); a strength out of range raises OptionError."""
    strength = getattr(args, "temporal_smoothing", None)
    return TemporalSmoother(strength) if strength else None


def add_mask_options(parser, still: bool = False) -> None:
    """--mask-mode, --mask-smoothing (not for `still` pictures), --mask-feather and --background-look."""
    group = parser.add_argument_group("masks: paint only the people, or only the rest")
    modes = MASK_MODES[:2] if still else MASK_MODES
    motion = "" if still else "; motion: only what moves (background subtraction, no model)"
    group.add_argument("--mask-mode", choices=modes,
                       help="person: paint only the people (a segmentation model, `stylize weights fetch "
                            f"selfie_segmentation`); background: only the rest{motion}")
    if not still:
        group.add_argument("--mask-smoothing", type=finite_float, metavar="0..1",
                           help=f"how much of the previous frames the mask keeps (default {SMOOTHING} for "
                                "person and background, 0.7 for motion): more is steadier, less follows faster")
    group.add_argument("--mask-feather", type=finite_float, metavar="FRACTION",
                       help=f"softness of the mask's edge, a fraction of the picture's long side (default "
                            f"{FEATHER} for person and background, 0.03 for motion; 0 is a hard edge)")
    group.add_argument("--background-look", metavar="LOOK",
                       help="paint where the mask is off (the room, with --mask-mode person) in this look "
                            "instead of keeping it: a built-in look, a fast net or a painting file")


def check_mask(args) -> None:
    """Refuse mask options that cannot work, and a missing segmentation model, before anything opens."""
    check_mask_options(getattr(args, "mask_smoothing", None), args.mask_feather)
    masked = args.mask_mode or getattr(args, "mask", None)
    if (getattr(args, "mask_smoothing", None) is not None or args.mask_feather is not None) and not args.mask_mode:
        raise OptionError("--mask-smoothing and --mask-feather shape a --mask-mode mask; add --mask-mode")
    if args.background_look and not masked:
        raise OptionError("--background-look paints where a mask is off: add --mask-mode person (or motion)")
    if args.background_look and args.mask_mode == "background":
        raise OptionError("--background-look paints what the mask leaves, and --mask-mode background leaves the "
                          "people: use --mask-mode person with the two looks swapped")
    if args.mask_mode in ("person", "background"):
        segmentation.model_path()


def background_look(args) -> Look | None:
    """The --background-look, through the arbitrary-style net named by --method (if any)."""
    if not args.background_look:
        return None
    arbitrary = [method for method in split(args.method) if not registry.is_fast(method)]
    return api.as_look(args.background_look, arbitrary[0] if arbitrary else None)


def make_mask(args, engine: Engine):
    """The live mask for --mask-mode (None without one), on the engine's device; sets --background-look."""
    engine.set_background(background_look(args))
    if not args.mask_mode:
        return None
    return live_mask(args.mask_mode, getattr(args, "mask_smoothing", None), args.mask_feather,
                     engine_device(engine))
