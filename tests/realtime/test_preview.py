"""The preview window, for real: Xvfb, OpenCV's GUI, xdotool key presses and screenshots."""
from __future__ import annotations

import os
import sys
import time

import cv2  # before anything imports av: see realtime/sinks/__init__.py
import numpy as np
import pytest

from stylize.errors import UserError
from stylize.realtime.controls import Controls
from stylize.realtime.engines import Look, TorchEngine
from stylize.realtime.frames import Frame
from stylize.realtime.sinks import HOTKEYS, PreviewWindow, format_hotkeys
from stylize.realtime.sinks.preview import compose, handle_key
from xserver import XServer, missing_tools, wait_until

WIDTH, HEIGHT = 320, 240
TITLE = "stylize-preview-test"


@pytest.fixture(scope="session")
def xserver():
    missing = missing_tools()
    if missing:
        pytest.skip(f"needs a virtual X server: apt-get install {' '.join(missing)}")
    server = XServer()
    # OpenCV's GUI connects once per process, so one server serves every window test.
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = server.display
    yield server
    server.stop()
    if old is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = old


@pytest.fixture(scope="module")
def frames(weights_dir):
    """A photo-like original and its real candy stylization (torch, CPU)."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    original = np.stack([xx * 255 // WIDTH, yy * 255 // HEIGHT, np.full_like(xx, 110)], -1).astype(np.uint8)
    cv2.circle(original, (WIDTH // 2, HEIGHT // 2), 60, (235, 235, 235), -1)
    engine = TorchEngine()
    engine.set_style(Look("candy", "candy"))
    return original, engine(original)


@pytest.fixture
def preview(xserver, frames, tmp_path):
    controls = Controls(["candy", "mosaic", "udnie", "rain"], backend="torch")
    controls.publish_stats(fps=23.4, latency_p50_ms=41, latency_p95_ms=67, drops=3)
    window = PreviewWindow(controls, title=TITLE, screenshots_dir=tmp_path / "shots")
    window.open(WIDTH, HEIGHT, 24)
    original, stylized = frames
    window.write(Frame(stylized, 0, time.monotonic(), original=original))
    assert wait_until(lambda: window.frames_shown >= 1)
    yield window
    window.close()


def close_to(a: np.ndarray, b: np.ndarray, tolerance: float = 4.0) -> bool:
    return a.shape == b.shape and float(np.abs(a.astype(np.int16) - b).mean()) < tolerance


def screen_shows(xserver, expected: np.ndarray, region=np.s_[:, :], title: str = TITLE) -> bool:
    """Wait for the window to show `expected` in `region` (the X server paints asynchronously)."""
    def shown() -> bool:
        shot = xserver.screenshot(title)[:HEIGHT, :WIDTH]
        if shot.max() == 0:  # never painted: see XServer.remap
            xserver.remap(title)
            return False
        return close_to(shot[region], expected[region])
    return wait_until(shown, timeout=10, step=0.2)


HUD = np.s_[:40, :]  # the HUD's rows at this size
BELOW_HUD = np.s_[60:, :]


def test_window_shows_the_stylized_frame_with_a_hud(xserver, frames, preview):
    original, stylized = frames
    assert not close_to(original, stylized, 20)  # the net really changed the picture
    assert screen_shows(xserver, stylized, BELOW_HUD)
    shot = xserver.screenshot(TITLE)[:HEIGHT, :WIDTH]
    hud = shot[HUD]
    assert not close_to(hud, stylized[HUD], 10)  # darkened box with text over the picture
    assert (hud.min(axis=2) > 200).sum() > 100  # white text pixels
    assert xserver.geometry(TITLE) == (WIDTH, HEIGHT)

    xserver.keys(TITLE, "h")
    assert wait_until(lambda: not preview.controls.hud)
    assert screen_shows(xserver, stylized)  # HUD gone: the whole frame is the stylized one


def test_keys_steer_the_controls(xserver, preview):
    controls = preview.controls
    xserver.keys(TITLE, "n", "Right")
    assert wait_until(lambda: controls.look_name == "udnie")
    xserver.keys(TITLE, "p", "4")
    assert wait_until(lambda: controls.look_name == "rain")
    xserver.keys(TITLE, "minus", "minus", "bracketleft")
    assert wait_until(lambda: controls.alpha == pytest.approx(0.7))
    xserver.keys(TITLE, "plus", "Up")
    assert wait_until(lambda: controls.alpha == pytest.approx(0.9))
    xserver.keys(TITLE, "space", "r")
    assert wait_until(lambda: controls.frozen and controls.recording)
    xserver.keys(TITLE, "f", "r")
    assert wait_until(lambda: not controls.frozen and not controls.recording)
    assert not controls.quit_requested.is_set()
    xserver.keys(TITLE, "q")
    assert controls.quit_requested.wait(10)


def test_views_original_and_split(xserver, frames, preview):
    original, stylized = frames
    preview.controls.toggle_hud()  # compare whole pictures
    xserver.keys(TITLE, "v")
    assert wait_until(lambda: preview.controls.view == "original")
    assert screen_shows(xserver, original)
    xserver.keys(TITLE, "v")
    assert wait_until(lambda: preview.controls.view == "split")
    half = WIDTH // 2
    assert screen_shows(xserver, original, np.s_[:, : half - 2])
    assert screen_shows(xserver, stylized, np.s_[:, half + 2:])
    divider = xserver.screenshot(TITLE)[:HEIGHT, half - 1: half + 1]
    assert divider.min() > 240


def test_screenshot_key_saves_the_picture_without_hud(xserver, frames, preview, tmp_path):
    xserver.keys(TITLE, "s")
    assert wait_until(lambda: len(preview.screenshots) == 1)
    path = preview.screenshots[0]
    assert path.parent == tmp_path / "shots" and path.suffix == ".png" and path.name.startswith("stylize-")
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    saved = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(saved, frames[1])


def test_fullscreen_keys_toggle_and_the_window_keeps_showing(xserver, frames, preview):
    # Xvfb has no window manager to honour the fullscreen request, so only the
    # state and a still-working window can be checked here.
    xserver.keys(TITLE, "w")
    assert wait_until(lambda: preview.controls.fullscreen)
    xserver.keys(TITLE, "F11")
    assert wait_until(lambda: not preview.controls.fullscreen)
    assert screen_shows(xserver, frames[1], BELOW_HUD)


def test_newest_frame_replaces_the_shown_one(xserver, frames, preview):
    red = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    red[..., 0] = 220
    preview.write(Frame(red, 1, time.monotonic()))
    assert screen_shows(xserver, red, BELOW_HUD)


def test_closing_the_window_asks_to_quit(xserver, preview):
    xserver.close_window(TITLE)
    assert preview.controls.quit_requested.wait(10)


def test_a_new_window_opens_after_one_was_closed(xserver, frames, preview):
    xserver.close_window(TITLE)
    assert preview.controls.quit_requested.wait(10)
    preview.close()
    again = PreviewWindow(Controls(["a"]), title=TITLE)
    again.open(WIDTH, HEIGHT, 24)
    try:
        again.write(Frame(frames[1], 0, time.monotonic()))
        again.controls.toggle_hud()
        assert screen_shows(xserver, frames[1])
    finally:
        again.close()


def test_hotkeys_are_listed_and_mapped():
    text = format_hotkeys()
    for keys, what in HOTKEYS:
        assert keys in text and what in text
    controls = Controls(["a", "b", "c"])
    assert handle_key(controls, ord("N"))  # shift / caps lock do not matter
    assert controls.look_name == "b"
    assert handle_key(controls, ord("1")) and controls.look_name == "a"
    assert not handle_key(controls, ord("x"))


def test_split_view_without_an_original_shows_the_stylized_frame(frames):
    _, stylized = frames
    assert compose(Frame(stylized, 0, 0.0), "split") is stylized


def test_no_display_is_a_user_error(monkeypatch):
    if not sys.platform.startswith("linux"):
        pytest.skip("DISPLAY only matters on Linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(UserError, match="--no-preview"):
        PreviewWindow().open(WIDTH, HEIGHT, 24)
