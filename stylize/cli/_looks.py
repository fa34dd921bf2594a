"""Shared by `image`, `live` and `video`: the look options, turned into Looks (stylize.api) and an engine."""
from __future__ import annotations

from stylize import api
from stylize.errors import OptionError
from stylize.jobs import backend_label  # noqa: F401 (live and video print it)
from stylize.models import looks as builtin_looks
from stylize.models import registry, weights
from stylize.models.color import COLOR_MODES
from stylize.realtime.engines import Engine, Look
from stylize.realtime.temporal import DEFAULT_STRENGTH, MAX_STRENGTH, TemporalSmoother
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
    group.add_argument("--backend", choices=api.BACKENDS, default="auto",
                       help="how the net runs: torch (CUDA when available, else CPU) or onnxruntime (CPU; "
                            "exports each net once); auto is torch")


def split(text: str | None) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()] if text else []


def check_common(args) -> None:
    api.check_options(args.alpha, args.size, args.backend, args.preserve_color)


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
    """The engine for --backend, set to --alpha and --preserve-color."""
    return api.new_engine(args.backend, args.alpha, args.preserve_color)


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
