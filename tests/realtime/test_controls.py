"""Controls: the shared live state, and OSC messages over real UDP on 127.0.0.1."""
from __future__ import annotations

import logging
import socket
import threading
import time

import numpy as np
import pytest
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import build_msg
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


GARBAGE = [("/stylize/alpha", [float("nan")]), ("/stylize/alpha", [float("inf")]), ("/stylize/alpha", []),
           ("/stylize/alpha", ["loud"]), ("/stylize/alpha", [True]), ("/stylize/crossfade", [float("inf")]),
           ("/stylize/crossfade", [float("-nan")]), ("/stylize/look", [float("nan")]),
           ("/stylize/look", [float("inf")]), ("/stylize/look", [1.5]), ("/stylize/look", [99]),
           ("/stylize/look", ["nope"]), ("/stylize/look", []), ("/stylize/view", ["sideways"]),
           ("/stylize/view", [3]), ("/stylize/view", []), ("/stylize/freeze", [float("nan")]),
           ("/stylize/freeze", [7]), ("/stylize/preserve_color", ["yes"]), ("/stylize/preserve_color", []),
           ("/stylize/look", [b"\x00\xff"])]


def _sent_and_handled(sender: socket.socket, server, controls, dgrams: list[bytes]) -> None:
    """Send datagrams, then a last alpha change; once that is applied, every earlier one was handled too."""
    for dgram in dgrams:
        sender.sendto(dgram, server.address)
    sentinel = controls.alpha + 0.125 if controls.alpha < 0.5 else controls.alpha - 0.125
    sender.sendto(build_msg("/stylize/alpha", [sentinel]).dgram, server.address)
    assert wait_for(lambda: controls.alpha == sentinel)


def _no_reply(sender: socket.socket) -> bool:
    """Nothing came back: a reply sent before the sentinel was handled would already be queued here."""
    sender.setblocking(False)
    try:
        sender.recv(65536)
    except BlockingIOError:
        return True
    return False


def test_bad_osc_arguments_change_nothing_and_log_one_line_each(caplog, capfd):
    controls = Controls(["candy", "mosaic", "udnie"], alpha=0.25, crossfade_ms=300)
    before = (controls.look_index, controls.crossfade_ms, controls.view, controls.frozen, controls.preserve_color)
    caplog.set_level(logging.WARNING, logger="stylize.osc")
    with OscServer(controls, 0) as server, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.bind(("127.0.0.1", 0))
        _sent_and_handled(sender, server, controls, [build_msg(a, args).dgram for a, args in GARBAGE])
        assert _no_reply(sender)
    after = (controls.look_index, controls.crossfade_ms, controls.view, controls.frozen, controls.preserve_color)
    assert after == before
    warnings = [r.getMessage() for r in caplog.records if r.name == "stylize.osc"]
    assert len(warnings) == len(GARBAGE) and all("\n" not in w and " ignored: " in w for w in warnings), warnings
    assert "Traceback" not in capfd.readouterr().err


def test_valid_osc_messages_send_nothing_back_and_print_nothing(capfd):
    controls = Controls(["candy", "mosaic"])
    valid = [("/stylize/view", ["split"]), ("/stylize/look", ["mosaic"]), ("/stylize/look", [0]),
             ("/stylize/freeze", [1]), ("/stylize/preserve_color", [1]), ("/stylize/next", [])]
    with OscServer(controls, 0) as server, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.bind(("127.0.0.1", 0))
        _sent_and_handled(sender, server, controls, [build_msg(a, args).dgram for a, args in valid])
        assert _no_reply(sender)
    assert (controls.view, controls.look_name, controls.frozen, controls.preserve_color) == (
        "split", "mosaic", True, True)
    assert capfd.readouterr().err == ""


def test_a_bundle_tagged_far_in_the_future_runs_at_once_instead_of_stalling_the_server():
    controls = Controls(["candy"])
    bundle = OscBundleBuilder(time.time() + 300 * 86400)  # 300 days from now
    bundle.add_content(build_msg("/stylize/view", ["original"]))
    with OscServer(controls, 0) as server, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        _sent_and_handled(sender, server, controls, [bundle.build().dgram])
    assert controls.view == "original"


def test_controls_refuse_non_finite_numbers():
    controls = Controls(["a"], alpha=0.5)
    for setter in (controls.set_alpha, controls.set_crossfade_ms):
        for value in (float("nan"), float("inf"), float("-inf")):
            with pytest.raises(ValueError, match="finite"):
                setter(value)
    assert (controls.alpha, controls.crossfade_ms) == (0.5, 500.0)


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
