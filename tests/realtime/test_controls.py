"""Controls: the shared live state, and OSC messages over real UDP on 127.0.0.1."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from pythonosc.udp_client import SimpleUDPClient

from stylize.errors import UserError
from stylize.realtime.controls import Controls, OscServer
from stylize.realtime.engines import Look, TorchEngine
from stylize.realtime.pipeline import Pipeline
from stylize.realtime.sinks import Sink
from stylize.realtime.sources import TestPattern


def wait_for(condition, timeout: float = 5.0) -> bool:
    """Poll until `condition()` holds; UDP delivery and thread hand-overs take a moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_looks_wrap_and_out_of_range_picks_are_ignored():
    controls = Controls(["a", "b", "c"])
    controls.previous_look()
    assert controls.look_name == "c"
    controls.next_look()
    assert controls.look_name == "a"
    assert controls.pick_look(1) and controls.look_name == "b"
    assert not controls.pick_look(8) and controls.look_name == "b"


def test_alpha_is_clamped_and_toggles_flip():
    controls = Controls(["a"], alpha=0.95)
    controls.alpha_up()
    controls.alpha_up()
    assert controls.alpha == 1.0
    for _ in range(12):
        controls.alpha_down()
    assert controls.alpha == 0.0
    assert [controls.view] + [controls.cycle_view() or controls.view for _ in range(3)] == \
        ["stylized", "original", "split", "stylized"]
    controls.request_screenshot()
    assert controls.take_screenshot_request() and not controls.take_screenshot_request()
    controls.toggle_freeze(), controls.toggle_hud(), controls.toggle_recording(), controls.toggle_fullscreen()
    assert (controls.frozen, controls.hud, controls.recording, controls.fullscreen) == (True, False, True, True)
    controls.quit()
    assert controls.quit_requested.is_set()


def test_osc_messages_move_the_controls():
    controls = Controls(["candy", "mosaic", "udnie"])
    with OscServer(controls, 0) as server:
        assert server.address[0] == "127.0.0.1"
        client = SimpleUDPClient(*server.address)
        client.send_message("/stylize/alpha", 0.25)
        assert wait_for(lambda: controls.alpha == 0.25)
        client.send_message("/stylize/look", "udnie")
        assert wait_for(lambda: controls.look_name == "udnie")
        client.send_message("/stylize/look", 1)
        assert wait_for(lambda: controls.look_name == "mosaic")
        client.send_message("/stylize/next", [])
        assert wait_for(lambda: controls.look_name == "udnie")
        client.send_message("/stylize/previous", [])
        assert wait_for(lambda: controls.look_name == "mosaic")
        client.send_message("/stylize/crossfade", 1200)
        assert wait_for(lambda: controls.crossfade_ms == 1200)
        client.send_message("/stylize/freeze", [])
        assert wait_for(lambda: controls.frozen)
        client.send_message("/stylize/freeze", 0)
        assert wait_for(lambda: not controls.frozen)
        client.send_message("/stylize/alpha", "loud")  # malformed: ignored, the show goes on
        client.send_message("/stylize/view", "split")
        assert wait_for(lambda: controls.view == "split")
        assert controls.alpha == 0.25


def test_busy_osc_port_is_a_user_error():
    controls = Controls(["a"])
    with OscServer(controls, 0) as server:
        with pytest.raises(UserError, match="busy"):
            OscServer(controls, server.address[1])


class Keep(Sink):
    """Keeps the newest frame it was given."""

    name = "keep"

    def __init__(self):
        self.latest = None

    def open(self, width, height, fps):
        pass

    def write(self, frame):
        self.latest = frame

    def close(self):
        pass


def test_osc_moves_alpha_and_look_of_a_running_pipeline(weights_dir):
    looks = [Look("wave", "wave"), Look("candy", "candy")]
    controls = Controls([look.name for look in looks], crossfade_ms=0)
    engine = TorchEngine()
    sink = Keep()
    pipeline = Pipeline(TestPattern(48, 32, fps=30), engine, looks, [sink], controls=controls)
    runner = threading.Thread(target=pipeline.run)
    with OscServer(controls, 0) as server:
        runner.start()
        try:
            client = SimpleUDPClient(*server.address)
            client.send_message("/stylize/look", "candy")
            assert wait_for(lambda: engine.look is looks[1])
            client.send_message("/stylize/alpha", 0.0)
            # With alpha 0 the output is the camera picture itself.
            assert wait_for(lambda: sink.latest is not None and engine.alpha == 0.0
                            and np.abs(sink.latest.image.astype(int) - sink.latest.original).max() <= 1)
        finally:
            controls.quit()
            runner.join(10)
    assert not runner.is_alive()


def test_colour_preservation_switches_back_to_the_mode_asked_for():
    controls = Controls(["a"], preserve_color="match")
    controls.toggle_preserve_color()
    assert controls.preserve_color is None
    controls.toggle_preserve_color()
    assert controls.preserve_color == "match"
    controls.set_preserve_color(False)
    controls.set_preserve_color(True)
    assert controls.preserve_color == "match"
    plain = Controls(["a"])
    plain.toggle_preserve_color()
    assert plain.preserve_color is True  # the engine reads True as "luminance"
