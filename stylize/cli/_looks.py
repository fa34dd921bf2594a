"""Shared by `live` and `video`: turn --style / --look / --method into Looks, and pick an engine."""
from __future__ import annotations

from pathlib import Path

import torch

from stylize.errors import UserError
from stylize.imageio import read_image
from stylize.models import looks as builtin_looks
from stylize.models import registry, weights
from stylize.realtime.engines import Engine, Look, TorchEngine

BACKENDS = ("auto", "torch", "onnxruntime")


def add_look_options(parser, several: bool) -> None:
    each = "; several, comma-separated, give looks to switch between" if several else ""
    group = parser.add_argument_group("what it looks like")
    group.add_argument("--method", help=f"a fast net ({', '.join(registry.fast_methods())}), or the arbitrary-style net "
                                        f"for --style and --look ({', '.join(registry.arbitrary_methods())}; default "
                                        f"{registry.DEFAULT_METHOD}){each}")
    group.add_argument("--style", help=f"painting image(s) for an arbitrary-style net{each}")
    group.add_argument("--look", help=f"built-in look(s) by name (see `stylize image --list-looks`){each}")
    group.add_argument("--alpha", type=float, default=1.0, help="0 = the original picture, 1 = full style (default 1)")
    group.add_argument("--preserve-color", action="store_true", help="keep the original colours, take only the style's "
                                                                     "brightness patterns")
    group.add_argument("--size", type=int, help="long side of the stylized picture in pixels "
                                                "(default: the source's size)")
    group.add_argument("--backend", choices=BACKENDS, default="auto",
                       help="how the net runs: torch (CUDA when available, else CPU) or onnxruntime (CPU; "
                            "exports each net once); auto is torch")


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()] if text else []


def check_common(args) -> None:
    if not 0.0 <= args.alpha <= 1.0:
        raise UserError(f"--alpha must be between 0 and 1, got {args.alpha}")
    if args.size is not None and args.size < 16:
        raise UserError(f"--size must be at least 16 pixels, got {args.size}")


def build_looks(args, several: bool) -> list[Look]:
    """The looks asked for, validated; style images are read here, nets load later."""
    styles, looks, methods = _split(args.style), _split(args.look), _split(args.method)
    if sum(bool(x) for x in (styles, looks)) > 1:
        raise UserError("give either --style or --look, not both")
    if not several and max(len(styles), len(looks), len(methods)) > 1:
        raise UserError("one look at a time here: give a single --style, --look or --method")
    if styles or looks:
        if len(methods) > 1:
            raise UserError("with --style or --look give one --method (an arbitrary-style net)")
        method = methods[0] if methods else registry.DEFAULT_METHOD
        if registry.is_fast(method):
            raise UserError(f"{method!r} is a fast net with a fixed look; --style and --look need an "
                            f"arbitrary-style net ({', '.join(registry.arbitrary_methods())})")
        _check_method(method)
        if looks:
            return [_builtin_look(name, method) for name in looks]
        return [Look(Path(path).stem, method, [read_image(path)]) for path in styles]
    if not methods and several:
        # `stylize live` with nothing named: the built-in looks, else every fast net that is here.
        if builtin_looks.names():
            return [Look(name, registry.DEFAULT_METHOD, builtin=name) for name in builtin_looks.names()]
        methods = [name for name in registry.fast_methods() if weights.find(name)]
    if not methods:
        raise UserError(f"nothing to stylize with: give --look NAME, --style PAINTING.jpg or --method "
                        f"({', '.join(registry.fast_methods())}); fast-net weights are looked up in "
                        f"$STYLIZE_WEIGHTS and {weights.cache_dir()}")
    for method in methods:
        _check_method(method)
        if not registry.is_fast(method):
            raise UserError(f"method {method!r} needs --style PAINTING.jpg or --look NAME")
    return [Look(method, method) for method in methods]


def _check_method(method: str) -> None:
    if method not in (*registry.fast_methods(), *registry.arbitrary_methods()):
        raise UserError(f"unknown method {method!r}; choose from "
                        f"{', '.join((*registry.fast_methods(), *registry.arbitrary_methods()))}")


def _builtin_look(name: str, method: str) -> Look:
    known = builtin_looks.names()
    if not known:
        raise UserError("this build has no built-in looks installed; use --style PAINTING.jpg or --method "
                        f"({', '.join(registry.fast_methods())})")
    if name not in known:
        raise UserError(f"unknown look {name!r}; built-in looks: {', '.join(known)}")
    return Look(name, method, builtin=name)


def make_engine(args) -> Engine:
    """The engine for --backend, set to --alpha and --preserve-color."""
    if args.backend == "onnxruntime":
        from stylize.realtime.onnx_engine import OnnxEngine

        engine: Engine = OnnxEngine()
    else:
        engine = TorchEngine("cuda" if torch.cuda.is_available() else "cpu")
    engine.alpha = args.alpha
    engine.preserve_color = args.preserve_color
    return engine


def backend_label(engine: Engine) -> str:
    device = getattr(engine, "device", None)
    return f"{engine.backend} {device.type}" if device is not None else engine.backend
