"""stylize: real-time style transfer for webcams, video and images.

The Python API (stylize.api) is re-exported here and imported on first use,
so `import stylize` and `stylize --help` stay fast:

    import stylize
    out = stylize.stylize_image("photo.jpg", look="starry-night")
"""
from __future__ import annotations

__version__ = "0.1.0"

import os as _os

# OpenMP threads that spin while waiting steal the cores from the pipeline's
# other threads (a 32x40 frame took 1.4 s instead of 20 ms on a busy 2-core
# machine). Must be set before torch is first imported.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Public names -> the module that defines them.
_API = {name: "stylize.api" for name in (
    "methods", "looks", "look", "make_look", "engine", "mask", "stylize_image", "stylize_sketch", "stylize_video",
    "MethodInfo", "StyleEngine", "TemporalSmoother", "keyframes", "offline_look", "distill", "load_net")}
_API.update({name: "stylize.errors" for name in (
    "StylizeError", "InputError", "OptionError", "OutputError", "WeightsError")})
_API["VideoResult"] = "stylize.jobs"

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'stylize' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
