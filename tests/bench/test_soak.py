"""`stylize bench soak`: a real live subprocess driven over OSC, its RSS and delivered fps sampled."""
from __future__ import annotations

import json
import socket
import threading

import cv2
import pytest

from stylize.bench.soak import FrameCounter, drift, rss_bytes
from stylize.cli import main
from stylize.errors import OptionError


def steady_samples(rss_start: int, rss_end: int, count: int = 20, fps: int = 30):
    """(seconds, RSS, frames) once a second, RSS rising linearly, after a warm-up at a quarter of the RSS."""
    warm = [(float(t), rss_start // 4, 0) for t in range(5)]
    return warm + [(float(t), rss_start + (rss_end - rss_start) * (t - 5) // (count - 1), fps * (t - 5))
                   for t in range(5, 5 + count)]


def test_drift_ignores_the_warm_up_and_compares_the_first_and_last_fifth():
    flat = drift(steady_samples(100 * 2**20, 100 * 2**20), warmup=0.2)
    assert flat["rss_drift_percent"] == 0.0 and flat["fps_first"] == flat["fps_last"] == 30.0
    assert flat["warmup_seconds"] == 5.0
    grown = drift(steady_samples(100 * 2**20, 120 * 2**20), warmup=0.2)
    assert 10 < grown["rss_drift_percent"] < 20 and grown["fps_drift_percent"] == 0.0


def test_too_few_samples_are_refused():
    with pytest.raises(OptionError, match="samples"):
        drift([(0.0, 1, 0), (1.0, 1, 30)], warmup=0.25)


def test_rss_of_this_process_and_of_none():
    assert rss_bytes(__import__("os").getpid()) > 10 * 2**20
    assert rss_bytes(2**22 + 12345) is None  # above the kernel's pid limit on this machine


def test_the_viewer_counts_every_frame_it_is_served():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve():
        connection, _ = server.accept()
        with connection:
            connection.recv(1024)
            for _ in range(7):
                connection.sendall(b"--frame\r\nContent-Type: image/jpeg\r\n\r\n" + b"x" * 5000 + b"\r\n")

    threading.Thread(target=serve, daemon=True).start()
    counter = FrameCounter(port, give_up=10)
    counter.start()
    counter.join(10)
    server.close()
    assert counter.frames == 7


@pytest.mark.slow
def test_a_short_soak_writes_its_figures_and_plot_into_the_current_directory(in_scratch_dir, capsys):
    assert main(["bench", "soak", "--minutes", "0.2", "--resolution", "160x120", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    folder = in_scratch_dir / "bench-results"
    assert json.loads((folder / "soak.json").read_text()) == report
    samples = report["samples"]
    assert len(samples) >= 5 and [s["seconds"] for s in samples] == sorted(s["seconds"] for s in samples)
    assert samples[-1]["frames"] > 0 and all(s["rss_mb"] > 0 for s in samples)
    assert report["osc_changes"]["next"] + report["osc_changes"]["alpha"] > 0 and report["osc_refused"] == 0
    assert report["fps_last"] > 0 and isinstance(report["rss_within_target"], bool)
    assert cv2.imread(str(folder / "soak.png")).shape == (600, 960, 3)
