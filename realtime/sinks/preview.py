"""PreviewWindow: the performer's window (OpenCV highgui), with a HUD and hotkeys.

OpenCV's GUI calls must all come from one thread: its Qt backend binds itself
to the first thread that opens a window, for the life of the process. So by
default every window runs on one long-lived GUI thread of this module, fed
through a one-slot "latest frame" holder: `write()` never blocks and the keys
stay responsive however slow the net is. One preview window is open at a time.
Where the GUI must live on the main thread (macOS), pass `threaded=False` and
call `pump()` from that thread in a loop.
"""
from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from stylize.errors import UserError
from stylize.realtime.controls import Controls
from stylize.realtime.frames import Frame, LatestSlot
from stylize.realtime.sinks.base import Sink

log = logging.getLogger(__name__)

# cv2.waitKeyEx codes of the special keys differ per GUI backend:
# X11 (Qt and GTK builds), Windows, macOS (Cocoa).
LEFT = (65361, 0x250000, 0xF702)
UP = (65362, 0x260000, 0xF700)
RIGHT = (65363, 0x270000, 0xF703)
DOWN = (65364, 0x280000, 0xF701)
F11 = (65480, 0x7A0000, 0xF70E)
ESC = 27

Action = Callable[[Controls], object]

# (keys as --help shows them, what they do, key codes, action)
_BINDINGS: list[tuple[str, str, tuple[int, ...], Action | None]] = [
    ("n, Right", "next look", (ord("n"), *RIGHT), Controls.next_look),
    ("p, Left", "previous look", (ord("p"), *LEFT), Controls.previous_look),
    ("1-9", "pick look 1-9", tuple(ord(str(d)) for d in range(1, 10)), None),  # see KEYMAP
    ("+, ], Up", "more style (alpha up)", (ord("+"), ord("="), ord("]"), *UP), Controls.alpha_up),
    ("-, [, Down", "less style (alpha down)", (ord("-"), ord("_"), ord("["), *DOWN), Controls.alpha_down),
    ("v", "view: stylized / original / split screen", (ord("v"),), Controls.cycle_view),
    ("space, f", "freeze / unfreeze", (ord(" "), ord("f")), Controls.toggle_freeze),
    ("s", "screenshot to a PNG in the screenshots folder", (ord("s"),), Controls.request_screenshot),
    ("r", "recording on / off", (ord("r"),), Controls.toggle_recording),
    ("h", "HUD on / off", (ord("h"),), Controls.toggle_hud),
    ("F11, w", "fullscreen on / off", (ord("w"), *F11), Controls.toggle_fullscreen),
    ("q, Esc", "quit (closing the window too)", (ord("q"), ESC), Controls.quit),
]

HOTKEYS: list[tuple[str, str]] = [(keys, what) for keys, what, _, _ in _BINDINGS]

KEYMAP: dict[int, Action] = {code: action for _, _, codes, action in _BINDINGS if action for code in codes}
KEYMAP.update({ord(str(d)): (lambda controls, i=d - 1: controls.pick_look(i)) for d in range(1, 10)})


def format_hotkeys() -> str:
    """The key list as text, for `stylize live --help`."""
    width = max(len(keys) for keys, _ in HOTKEYS)
    return "\n".join(f"  {keys:<{width}}  {what}" for keys, what in HOTKEYS)


def handle_key(controls: Controls, code: int) -> bool:
    """Apply the hotkey with cv2.waitKeyEx code `code`; False if it means nothing."""
    if ord("A") <= code <= ord("Z"):  # shift or caps lock must not disable the keys
        code += 32
    action = KEYMAP.get(code)
    if action is None:
        return False
    action(controls)
    return True


class PreviewWindow(Sink):
    """Shows the stylized frame (or the original, or a split screen) with a HUD.

    Keys go to `controls` (see HOTKEYS); the window acts itself on view, HUD,
    fullscreen and screenshots. Closing the window asks `controls` to quit.
    """

    name = "preview"

    def __init__(self, controls: Controls | None = None, *, title: str = "stylize",
                 screenshots_dir: str | os.PathLike = "screenshots", threaded: bool = True):
        self.controls = controls if controls is not None else Controls(["stylized"])
        self.title = title
        self.screenshots_dir = Path(screenshots_dir)
        self.threaded = threaded
        self.screenshots: list[Path] = []  # PNGs saved so far
        self.frames_shown = 0
        self._slot = LatestSlot()
        self._frame: Frame | None = None  # the newest frame received
        self._received = 0  # frames taken from the slot
        self._picture: np.ndarray | None = None  # what is on screen, without the HUD (RGB)
        self._drawn = None  # what the screen shows, to redraw only on change
        self._notice = ("", 0.0)  # a short message for the HUD, until a monotonic time
        self._fullscreen = False
        self._window = False
        self._size = (640, 480)
        self._ready = threading.Event()  # the GUI thread has opened the window (or failed to)
        self._stop = threading.Event()
        self._finished = threading.Event()  # the GUI thread is done with this window
        self._on_gui_thread = False
        self._error: BaseException | None = None

    # -- Sink -----------------------------------------------------------------
    def open(self, width: int, height: int, fps: float | Fraction) -> None:
        _check_display()
        _check_xcb_libraries()
        self._size = (width, height)
        if not self.threaded:
            self._create_window()
            return
        _claim_gui(self)
        self._on_gui_thread = True
        _run_on_gui_thread(self._run)
        if not self._ready.wait(timeout=10):
            raise UserError("the preview window did not open within 10 s; run with --no-preview")
        if self._error is not None:
            raise UserError(f"cannot open the preview window ({self._error}); run with --no-preview")

    def write(self, frame: Frame) -> None:
        self._slot.put(frame)  # never blocks: the window shows the newest frame

    def close(self) -> None:
        self._stop.set()
        self._slot.close()
        if self._on_gui_thread:
            self._finished.wait(timeout=2)
        elif self._window:
            self._destroy_window()

    # -- the GUI loop ----------------------------------------------------------
    def pump(self, timeout: float = 0.01) -> bool:
        """Show the newest frame and handle keys once; False when the window has gone.

        Call only from the thread that opened the window (`threaded=False`).
        """
        frame = self._slot.get(timeout=timeout)
        if frame is not None:
            self._frame, self._received = frame, self._received + 1
        self._apply_fullscreen()
        self._redraw()
        code = cv2.waitKeyEx(1)
        if code != -1:
            handle_key(self.controls, code)
        if self.controls.take_screenshot_request():
            self._save_screenshot()
        if not self._visible():
            self._window = False  # closed by the user; nothing left to destroy
            self.controls.quit()
            return False
        return True

    def _visible(self) -> bool:
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:  # Qt tears its GUI down with the last window
            return False

    def _run(self) -> None:
        """The window's whole life, on the GUI thread."""
        try:
            try:
                self._create_window()
            except Exception as exc:  # reported by open()
                self._error = exc
                return
            finally:
                self._ready.set()
            while not self._stop.is_set() and self.pump():
                pass
        except Exception:
            # Without its window the show cannot be steered: stop it rather than run blind.
            log.exception("the preview window failed")
            self.controls.quit()
        finally:
            self._destroy_window()
            _release_gui(self)
            self._finished.set()

    def _create_window(self) -> None:
        _quiet_qt_fonts()
        cv2.namedWindow(self.title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        cv2.resizeWindow(self.title, *self._size)
        # Show something at once, so the window is there (and closable) before the first frame.
        waiting = np.full((self._size[1], self._size[0], 3), 24, np.uint8)
        _text(waiting, "waiting for frames...", (16, 32), max(0.5, _hud_scale(self._size[1])))
        cv2.imshow(self.title, waiting)
        cv2.waitKey(1)
        self._window = True

    def _destroy_window(self) -> None:
        if self._window:
            self._window = False
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)  # let the GUI hide it now
            except cv2.error:
                pass  # already gone

    def _apply_fullscreen(self) -> None:
        wanted = self.controls.fullscreen
        if wanted != self._fullscreen:
            self._fullscreen = wanted
            cv2.setWindowProperty(self.title, cv2.WND_PROP_FULLSCREEN,
                                  cv2.WINDOW_FULLSCREEN if wanted else cv2.WINDOW_NORMAL)

    def _redraw(self) -> None:
        frame = self._frame
        if frame is None:
            return
        controls = self.controls
        notice = self._notice[0] if time.monotonic() < self._notice[1] else ""
        hud = controls.hud_lines() if controls.hud else None
        state = (self._received, controls.view, hud, notice)
        if state == self._drawn:
            return
        self._drawn = state
        self._picture = compose(frame, controls.view)
        shown = cv2.cvtColor(self._picture, cv2.COLOR_RGB2BGR)
        if hud is not None:
            draw_hud(shown, hud, recording=controls.recording, notice=notice,
                     split=controls.view == "split" and frame.original is not None)
        cv2.imshow(self.title, shown)
        self.frames_shown += 1

    def _save_screenshot(self) -> None:
        if self._picture is None:
            return
        try:
            path = save_png(self._picture, self.screenshots_dir)
        except OSError as exc:
            self._notice = (f"screenshot failed: {exc.strerror or exc}", time.monotonic() + 3)
            return
        self.screenshots.append(path)
        self._notice = (f"saved {path}", time.monotonic() + 2)


_gui_lock = threading.Lock()
_gui_tasks: queue.SimpleQueue | None = None
_gui_owner: PreviewWindow | None = None


def _run_on_gui_thread(task: Callable[[], None]) -> None:
    global _gui_tasks
    with _gui_lock:
        if _gui_tasks is None:
            _gui_tasks = queue.SimpleQueue()
            threading.Thread(target=_gui_worker, args=(_gui_tasks,), name="opencv-gui", daemon=True).start()
    _gui_tasks.put(task)


def _gui_worker(tasks: queue.SimpleQueue) -> None:
    while True:
        tasks.get()()


def _claim_gui(window: PreviewWindow) -> None:
    global _gui_owner
    with _gui_lock:
        if _gui_owner is not None:
            raise RuntimeError(f"preview window {_gui_owner.title!r} is still open; one at a time")
        _gui_owner = window


def _release_gui(window: PreviewWindow) -> None:
    global _gui_owner
    with _gui_lock:
        if _gui_owner is window:
            _gui_owner = None


def compose(frame: Frame, view: str) -> np.ndarray:
    """The RGB picture for `view`: stylized, original, or split (original left, stylized right)."""
    stylized = frame.image
    original = frame.original
    if view == "stylized" or original is None:
        return stylized
    h, w = stylized.shape[:2]
    if original.shape[:2] != (h, w):
        original = cv2.resize(original, (w, h), interpolation=cv2.INTER_AREA)
    if view == "original":
        return original
    picture = stylized.copy()
    half = w // 2
    picture[:, :half] = original[:, :half]
    picture[:, max(0, half - 1): half + 1] = 255  # the divider
    return picture


def draw_hud(image: np.ndarray, lines: list[str], *, recording: bool = False, notice: str = "",
             split: bool = False) -> None:
    """Draw the HUD in place on a BGR image: text on darkened boxes, legible on any picture."""
    h, w = image.shape[:2]
    scale = _hud_scale(h)
    pad = max(4, round(10 * scale))
    line_height = round(30 * scale)
    if lines:
        width = max(_text_width(line, scale) for line in lines)
        _darken(image, 0, 0, width + 2 * pad, len(lines) * line_height + pad)
        for i, line in enumerate(lines):
            _text(image, line, (pad, (i + 1) * line_height - pad // 2), scale)
    if recording:
        radius = max(4, round(8 * scale))
        label_width = _text_width("REC", scale)
        x = w - 2 * pad - label_width
        _darken(image, x - 3 * radius - pad, 0, w, line_height + pad)
        cv2.circle(image, (x - 2 * radius, line_height // 2 + pad // 2), radius, (0, 0, 255), -1, cv2.LINE_AA)
        _text(image, "REC", (x, line_height - pad // 2), scale, (0, 0, 255))
    bottom = h - pad
    if notice:
        _darken(image, 0, h - line_height - pad, _text_width(notice, scale) + 2 * pad, h)
        _text(image, notice, (pad, bottom), scale)
    elif split:
        for label, x in (("original", pad), ("stylized", w // 2 + pad)):
            _darken(image, x - pad, h - line_height - pad, x + _text_width(label, scale) + pad, h)
            _text(image, label, (x, bottom), scale)


_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _hud_scale(height: int) -> float:
    return min(1.4, max(0.5, height / 720))


def _text_width(text: str, scale: float) -> int:
    return cv2.getTextSize(_ascii(text), _FONT, scale, _thickness(scale))[0][0]


def _thickness(scale: float) -> int:
    return 1 if scale < 0.8 else 2


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float,
          color: tuple[int, int, int] = (255, 255, 255)) -> None:
    cv2.putText(image, _ascii(text), origin, _FONT, scale, color, _thickness(scale), cv2.LINE_AA)


def _ascii(text: str) -> str:
    # The Hershey fonts have ASCII only; anything else would draw as '?' anyway.
    return text.encode("ascii", "replace").decode()


def _darken(image: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    box = image[max(0, y0): y1, max(0, x0): x1]
    box[:] = box // 3


def save_png(image: np.ndarray, folder: Path) -> Path:
    """Write an RGB image as folder/stylize-YYYYmmdd-HHMMSS-mmm.png, atomically (temp name, then rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    stem = time.strftime("stylize-%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now * 1000) % 1000:03d}"
    path = folder / f"{stem}.png"
    n = 1
    while path.exists():
        path, n = folder / f"{stem}-{n}.png", n + 1
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError("PNG encoding failed")
    tmp = folder / f".{path.name}.partial"
    tmp.write_bytes(data.tobytes())
    os.replace(tmp, path)
    return path


def _check_display() -> None:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError("no display for the preview window (DISPLAY is not set); "
                        "run with --no-preview, or under xvfb-run")


def _check_xcb_libraries() -> None:
    """Fail loudly instead of hanging when PyAV's X11 libraries shadow OpenCV's (see sinks/__init__.py)."""
    try:
        with open("/proc/self/maps") as maps:
            loaded = {line.split()[-1] for line in maps if "/av.libs/libxcb-" in line}
        opencv_libs = set(os.listdir(Path(cv2.__file__).resolve().parents[1] / "opencv_python.libs"))
    except OSError:
        return  # not Linux, or not the pip wheels: nothing to clash
    shadowed = sorted(name for name in (Path(p).name for p in loaded) if name in opencv_libs)
    if shadowed:
        raise RuntimeError(f"PyAV was imported before OpenCV, so its {', '.join(shadowed)} shadow OpenCV's and "
                           f"the window would hang; `import cv2` before anything imports av")


def _quiet_qt_fonts() -> None:
    # OpenCV's Qt build looks for fonts in its own empty folder and complains on
    # every window; point it at the system fonts instead.
    if "QT_QPA_FONTDIR" not in os.environ:
        for folder in ("/usr/share/fonts/truetype", "/usr/share/fonts"):
            if os.path.isdir(folder):
                os.environ["QT_QPA_FONTDIR"] = folder
                break
