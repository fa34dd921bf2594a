"""A real X server for window tests: Xvfb, screenshots (ImageMagick `import`), keys (xdotool).

CI needs the apt packages xvfb, xdotool and imagemagick; without them the
tests that use `XServer` skip with the reason.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import time
from collections.abc import Callable

import cv2
import numpy as np

TOOLS = {"Xvfb": "xvfb", "xdotool": "xdotool", "import": "imagemagick"}


def missing_tools() -> list[str]:
    """apt packages whose programs are not on PATH."""
    return [package for tool, package in TOOLS.items() if shutil.which(tool) is None]


class XServer:
    """Xvfb on a display number it picks itself (-displayfd), so parallel runs never collide."""

    def __init__(self, width: int = 1024, height: int = 768):
        read, write = os.pipe()
        self.process = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()  # written once the server accepts clients
        if not number:
            self.process.kill()
            raise RuntimeError("Xvfb did not start")
        self.display = f":{number}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display}

    def run(self, *args: str) -> str:
        result = subprocess.run(args, env=self.env(), capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def window(self, title: str) -> int:
        """The id of the visible window called exactly `title`."""
        # Only visible ones: Qt hides a destroyed window but may keep it until later.
        return int(self.run("xdotool", "search", "--onlyvisible", "--name", f"^{title}$").split()[0])

    def keys(self, title: str, *keys: str) -> None:
        """Type keys (xdotool names: n, Right, plus, space, Escape...) into the window."""
        # windowfocus, not windowactivate: there is no window manager to ask.
        self.run("xdotool", "windowfocus", "--sync", str(self.window(title)), "key", "--delay", "30", *keys)

    def screenshot(self, title: str | None = None) -> np.ndarray:
        """RGB pixels of the window called `title`, or of the whole screen."""
        target = str(self.window(title)) if title else "root"
        png = subprocess.run(["import", "-window", target, "png:-"], env=self.env(), capture_output=True,
                             timeout=30, check=True).stdout
        return cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def geometry(self, title: str) -> tuple[int, int]:
        """(width, height) of the window."""
        lines = dict(line.split("=", 1) for line in
                     self.run("xdotool", "getwindowgeometry", "--shell", str(self.window(title))).split())
        return int(lines["WIDTH"]), int(lines["HEIGHT"])

    def remap(self, title: str) -> None:
        """Unmap and map the window again, as a window manager does when it takes a window over.

        OpenCV's Qt windows sometimes miss their first expose on a bare X
        server (seen in about 1 of 10 windows under load, in the main thread
        as well as others, also with a window manager, rarely) and then stay
        black until they are mapped again.
        """
        window = str(self.window(title))
        self.run("xdotool", "windowunmap", "--sync", window, "windowmap", "--sync", window)

    def close_window(self, title: str) -> None:
        """Ask the window to close the way a window manager's close button does (WM_DELETE_WINDOW)."""
        _send_delete_window(self.display, self.window(title))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> bool:
    """Poll `condition` until it holds or `timeout` passes; returns its last value (a deadline, not a timing)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(step)


class _ClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]


class _Event(ctypes.Union):
    _fields_ = [("xclient", _ClientMessage), ("pad", ctypes.c_long * 24)]  # XEvent is 24 longs


def _send_delete_window(display: str, window: int) -> None:
    # xdotool's windowclose destroys the window outright, which no real user does;
    # a window manager sends this ClientMessage instead. libX11 comes with Xvfb.
    x11 = ctypes.CDLL(ctypes.util.find_library("X11"))
    x11.XOpenDisplay.restype, x11.XOpenDisplay.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    connection = x11.XOpenDisplay(display.encode())
    if not connection:
        raise RuntimeError(f"cannot connect to X display {display}")
    try:
        event = _Event()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = window
        event.xclient.message_type = x11.XInternAtom(connection, b"WM_PROTOCOLS", 0)
        event.xclient.format = 32
        event.xclient.data[0] = x11.XInternAtom(connection, b"WM_DELETE_WINDOW", 0)
        x11.XSendEvent(connection, window, 0, 0, ctypes.byref(event))
        x11.XFlush(connection)
    finally:
        x11.XCloseDisplay(connection)
