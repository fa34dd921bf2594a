"""`stylize live` says where its outputs go, sums up the run, and refuses a run with no output at all."""
from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import urllib.request

import pytest

from helpers import REPO, run_cli
from stylize.cli.live import describe_stream
from stylize.realtime.sinks import NetworkStream

SUMMARY = re.compile(r"^live: (\d+) frames in [\d.]+ s, [\d.]+ fps, (\d+) dropped \(duration reached\)$", re.M)
PATTERN = ("live", "--source", "testpattern:64x48@30", "--no-preview", "--method", "wave")


def _receive_udp(sock: socket.socket, packets: list[bytes]) -> None:
    sock.settimeout(0.5)
    while True:
        try:
            packets.append(sock.recv(65536))
        except socket.timeout:
            if packets:
                return
        except OSError:  # closed by the test
            return


def test_udp_stream_prints_the_url_to_open_and_a_summary(tmp_path):
    stats = tmp_path / "live.json"
    packets: list[bytes] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        port = receiver.getsockname()[1]
        listener = threading.Thread(target=_receive_udp, args=(receiver, packets), daemon=True)
        listener.start()
        result = run_cli(*PATTERN, "--stream", f"udp://127.0.0.1:{port}", "--duration", "1", "--stats", stats)
        listener.join(timeout=10)
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    lines = stderr.strip().splitlines()
    assert lines[0].startswith(f"stream: MPEG-TS to udp://127.0.0.1:{port} ") and "mpegts" in lines[0], stderr
    frames, drops = (int(n) for n in SUMMARY.search(stderr).groups())
    report = json.loads(stats.read_text())
    assert frames == report["stages"]["engine"]["frames"] > 0 and drops == report["drops"]
    assert packets and all(p[0] == 0x47 for p in packets)  # what was announced is MPEG-TS on that port


def test_mjpeg_stream_prints_the_real_port_and_serves_there():
    process = subprocess.Popen([sys.executable, "-m", "stylize", *PATTERN, "--stream",
                                "http://127.0.0.1:0/", "--duration", "4"],
                               stderr=subprocess.PIPE, cwd=REPO, text=True)
    try:
        first = process.stderr.readline()
        url = re.search(r"MJPEG at (http://127\.0\.0\.1:(\d+)/) ", first)
        assert url and url.group(2) != "0", first
        with urllib.request.urlopen(url.group(1), timeout=10) as response:
            assert response.headers.get_content_type() == "multipart/x-mixed-replace"
            assert b"\xff\xd8" in response.read(4096)  # a JPEG starts
        rest = process.stderr.read()
    finally:
        process.wait(timeout=60)
    assert process.returncode == 0, rest
    assert SUMMARY.search(rest), rest


def test_record_names_its_file_at_the_start_and_the_end(tmp_path):
    record = tmp_path / "show.mp4"
    result = run_cli(*PATTERN, "--record", record, "--duration", "1")
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 0, lines
    assert lines[0] == f"recording: {record}"
    assert f"recorded {record}" in lines and SUMMARY.match(lines[-1]), lines
    assert record.stat().st_size > 0


def test_a_run_with_no_output_at_all_is_refused():
    result = run_cli(*PATTERN, "--duration", "1")
    stderr = result.stderr.decode()
    assert result.returncode == 2
    assert stderr.count("\n") == 1 and "--no-preview" in stderr and "--stream" in stderr and "--record" in stderr


@pytest.mark.parametrize("args, expected", [
    (("--capture", "1280by720"), "--capture must look like WIDTHxHEIGHT"),
    (("--capture", "8x8"), "--capture must be at least 16x16"),
    (("--source", "testpattern:64x@30"), "WIDTHxHEIGHT"),
])
def test_sizes_are_parsed_by_the_one_wxh_parser(args, expected, tmp_path):
    result = run_cli(*PATTERN, "--stats", tmp_path / "s.json", "--duration", "1", *args)
    stderr = result.stderr.decode()
    assert result.returncode == 2 and stderr.count("\n") == 1 and expected in stderr, stderr
    assert not (tmp_path / "s.json").exists()


def test_a_server_on_every_interface_is_announced_by_this_machines_name():
    line = describe_stream(NetworkStream("http://0.0.0.0:8080/"))
    assert "http://THIS-MACHINE:8080/" in line and "0.0.0.0" not in line
