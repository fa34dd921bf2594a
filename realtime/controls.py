"""Performer controls: one shared, thread-safe state for hotkeys, OSC and the HUD.

`Controls` is the single place live settings live. Whoever handles input (the
preview window's hotkeys, the OSC server) calls its methods; the engine loop in
pipeline.py reads it once per frame and applies what changed; the HUD reads
its state and stats. Every method may be called from any thread.

Who acts on what:
  - the engine loop: look (with a crossfade of `crossfade_ms`), alpha,
    preserve_color, frozen (restylizes the held frame, so looks still change);
  - the pipeline: recording (opens/closes the --record writer), quit_requested;
  - the preview sink: view (original / stylized / split), hud, fullscreen,
    screenshots (`take_screenshot_request()` is True once per request).
    Other sinks always get the stylized picture; every Frame also carries
    `original` for the split view.

OSC (python-osc, UDP; `stylize live --osc PORT`, bound to 127.0.0.1 unless
`--osc-host` says otherwise). Addresses:
  /stylize/look <int>          pick look by 0-based index
  /stylize/look <str>          pick look by name
  /stylize/next                next look
  /stylize/previous            previous look
  /stylize/alpha <float>       style strength, 0 (photo) .. 1 (full style)
  /stylize/crossfade <float>   crossfade time in milliseconds for later look changes
  /stylize/freeze [<int>]      1 freezes, 0 unfreezes, no argument toggles
  /stylize/view <str>          original | stylized | split
  /stylize/preserve_color <int> 1 keeps the camera's colours, 0 takes the style's
Example, with python-osc's client:
    SimpleUDPClient("127.0.0.1", 9000).send_message("/stylize/alpha", 0.5)
A message the controls cannot take (a NaN, an unknown look, a missing or
garbled argument) changes nothing and is logged as one warning; no handler
sends anything back, and bundles run at once, whatever time they are tagged with.
"""
from __future__ import annotations

import errno
import logging
import math
import threading
from collections.abc import Sequence

from stylize.errors import UserError

VIEWS = ("stylized", "original", "split")
ALPHA_STEP = 0.1
log = logging.getLogger("stylize.osc")


class Controls:
    """Live state shared by input handlers, the engine loop and the HUD."""

    def __init__(self, looks: Sequence[str], alpha: float = 1.0, crossfade_ms: float = 500.0,
                 backend: str = "?", recording: bool = False, preserve_color: bool | str | None = None):
        if not looks:
            raise ValueError("Controls needs at least one look")
        self._lock = threading.Lock()
        self.looks = list(looks)  # look names, in hotkey order (1 = the first)
        self.look_index = 0
        self.alpha = _clamp(alpha)
        self.crossfade_ms = max(0.0, _finite(crossfade_ms, "crossfade_ms"))
        self.preserve_color = preserve_color  # None/False (off), True/"luminance" or "match": as the engine takes it
        # What switching colour preservation on restores: the mode asked for at the start.
        self._color_on = preserve_color if isinstance(preserve_color, str) else True
        self.view = VIEWS[0]
        self.frozen = False
        self.hud = True
        self.recording = recording
        self.fullscreen = False
        self.quit_requested = threading.Event()
        self._screenshots = 0
        # Written by the pipeline for the HUD and --stats.
        self.backend = backend
        self.fps = 0.0
        self.latency_p50_ms = 0.0
        self.latency_p95_ms = 0.0
        self.drops = 0
        self.mask_status = ""  # the live mask's kind and cost per frame, when there is one

    # -- looks -------------------------------------------------------------
    @property
    def look_name(self) -> str:
        return self.looks[self.look_index]

    def next_look(self) -> None:
        with self._lock:
            self.look_index = (self.look_index + 1) % len(self.looks)

    def previous_look(self) -> None:
        with self._lock:
            self.look_index = (self.look_index - 1) % len(self.looks)

    def pick_look(self, index: int) -> bool:
        """Select look `index` (0-based; key 1 is index 0). Out of range is ignored."""
        with self._lock:
            if 0 <= index < len(self.looks):
                self.look_index = index
                return True
            return False

    def pick_look_by_name(self, name: str) -> bool:
        with self._lock:
            if name in self.looks:
                self.look_index = self.looks.index(name)
                return True
            return False

    # -- strength and colour ----------------------------------------------
    def set_alpha(self, value: float) -> None:
        with self._lock:
            self.alpha = _clamp(value)

    def alpha_up(self) -> None:
        self.set_alpha(round(self.alpha + ALPHA_STEP, 3))

    def alpha_down(self) -> None:
        self.set_alpha(round(self.alpha - ALPHA_STEP, 3))

    def set_crossfade_ms(self, ms: float) -> None:
        with self._lock:
            self.crossfade_ms = max(0.0, _finite(ms, "crossfade_ms"))

    def set_preserve_color(self, on: bool) -> None:
        with self._lock:
            self.preserve_color = self._color_on if on else None

    def toggle_preserve_color(self) -> None:
        with self._lock:
            self.preserve_color = None if self.preserve_color else self._color_on

    # -- what is shown -----------------------------------------------------
    def cycle_view(self) -> None:
        with self._lock:
            self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]

    def set_view(self, view: str) -> bool:
        with self._lock:
            if view in VIEWS:
                self.view = view
                return True
            return False

    def toggle_freeze(self) -> None:
        with self._lock:
            self.frozen = not self.frozen

    def set_frozen(self, frozen: bool) -> None:
        with self._lock:
            self.frozen = bool(frozen)

    def toggle_hud(self) -> None:
        with self._lock:
            self.hud = not self.hud

    def toggle_fullscreen(self) -> None:
        with self._lock:
            self.fullscreen = not self.fullscreen

    def request_screenshot(self) -> None:
        with self._lock:
            self._screenshots += 1

    def take_screenshot_request(self) -> bool:
        """True once for each `request_screenshot()`; the preview sink saves the PNG."""
        with self._lock:
            if self._screenshots:
                self._screenshots -= 1
                return True
            return False

    def toggle_recording(self) -> None:
        with self._lock:
            self.recording = not self.recording

    def quit(self) -> None:
        self.quit_requested.set()

    # -- stats, written by the pipeline -------------------------------------
    def publish_stats(self, fps: float, latency_p50_ms: float, latency_p95_ms: float, drops: int) -> None:
        self.fps, self.latency_p50_ms, self.latency_p95_ms, self.drops = fps, latency_p50_ms, latency_p95_ms, drops

    def hud_lines(self) -> list[str]:
        """The HUD's text, one string per line."""
        lines = [
            f"{self.fps:5.1f} fps  latency {self.latency_p50_ms:.0f}/{self.latency_p95_ms:.0f} ms (p50/p95)"
            f"  drops {self.drops}",
            f"look {self.look_index + 1}/{len(self.looks)}: {self.look_name}  alpha {self.alpha:.2f}"
            f"  [{self.backend}]",
        ]
        flags = [name for name, on in (("FROZEN", self.frozen), ("REC", self.recording),
                                       ("colour kept", self.preserve_color)) if on]
        if self.view != "stylized":
            flags.append(f"view: {self.view}")
        if flags:
            lines.append("  ".join(flags))
        if self.mask_status:
            lines.append(self.mask_status)
        return lines


def _finite(value: float, name: str) -> float:
    """`value` as a float; ValueError for NaN or infinity, which would freeze a fade or blank the picture."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, _finite(value, "alpha")))


class OscServer:
    """Receives OSC messages on UDP and applies them to a `Controls` (addresses: module docstring)."""

    def __init__(self, controls: Controls, port: int, host: str = "127.0.0.1"):
        from pythonosc.dispatcher import Dispatcher
        from pythonosc.osc_server import BlockingOSCUDPServer

        self.controls = controls
        # Not strict timing: a bundle tagged with a future time would otherwise stall the server until then.
        dispatcher = Dispatcher(strict_timing=False)
        handlers = {"look": self._look, "next": lambda *args: controls.next_look(),
                    "previous": lambda *args: controls.previous_look(),
                    "alpha": lambda *args: controls.set_alpha(_number(args)),
                    "crossfade": lambda *args: controls.set_crossfade_ms(_number(args)),
                    "freeze": self._freeze, "view": self._view, "preserve_color": self._preserve_color}
        for name, handler in handlers.items():
            dispatcher.map(f"/stylize/{name}", _quiet(handler))
        try:
            self._server = BlockingOSCUDPServer((host, port), dispatcher)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UserError(f"OSC port {port} on {host} is busy; pick another with --osc") from None
            raise UserError(f"cannot listen for OSC on {host}:{port}: {exc.strerror or exc}") from None
        self.address = self._server.server_address  # (host, port); port is real even when 0 was asked
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="osc", daemon=True)

    def start(self) -> OscServer:
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=2)
        self._server.server_close()

    def __enter__(self) -> OscServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # Handlers raise ValueError for a message they cannot take; `_quiet` turns it into a log line.
    def _look(self, *args) -> None:
        value = _first(args)
        if isinstance(value, str):
            if not self.controls.pick_look_by_name(value):
                raise ValueError(f"no look named {value!r}")
        elif not self.controls.pick_look(_whole(_number(args))):
            raise ValueError(f"no look {value!r}; there are {len(self.controls.looks)}, counted from 0")

    def _freeze(self, *args) -> None:
        if args:
            self.controls.set_frozen(_switch(args))
        else:
            self.controls.toggle_freeze()

    def _view(self, *args) -> None:
        view = _first(args)
        if not (isinstance(view, str) and self.controls.set_view(view)):
            raise ValueError(f"the view must be one of {', '.join(VIEWS)}, got {view!r}")

    def _preserve_color(self, *args) -> None:
        self.controls.set_preserve_color(_switch(args))


def _quiet(handler):
    """`handler(*arguments)` for the dispatcher: returns None (python-osc would send a returned value back as
    a reply) and logs a message it cannot take as one line, so nothing on the wire can raise a traceback."""
    def handle(address: str, *args) -> None:
        try:
            handler(*args)
        except Exception as exc:  # every message is untrusted input; the show goes on
            log.warning("stylize: OSC %s %s ignored: %s", address, " ".join(map(repr, args)), exc)
    return handle


def _first(args: tuple):
    if not args:
        raise ValueError("it needs an argument")
    return args[0]


def _number(args: tuple) -> float:
    value = _first(args)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"it needs a number, got {value!r}")
    return _finite(value, "the argument")


def _whole(value: float) -> int:
    if value != int(value):
        raise ValueError(f"it needs a whole number, got {value!r}")
    return int(value)


def _switch(args: tuple) -> bool:
    """1/0 (or True/False) as a bool; anything else is refused rather than read as truthy."""
    value = _first(args)
    if isinstance(value, bool):
        return value
    number = _number(args)
    if number not in (0, 1):
        raise ValueError(f"it needs 1 (on) or 0 (off), got {value!r}")
    return bool(number)
