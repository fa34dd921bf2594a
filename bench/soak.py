"""A soak of `stylize live`: memory and frame rate over a long run while a performer keeps changing the look.

`live` runs in a subprocess on a test pattern, serving MJPEG on 127.0.0.1 to a
viewer that counts the frames it receives (the delivered frame rate). Over OSC
the looks are stepped and the alpha changed every `osc_every` seconds. Every
`sample_every` seconds the process's resident memory (VmRSS from
/proc/PID/status) and the frames delivered are sampled. After the warm-up (the
first `warmup` share of the run) drift is the change from the first to the last
fifth of the samples, in per cent. Results: soak.json and soak.png (RSS and fps
over time) in the folder given with -o (default ./bench-results/). Run it as
`stylize bench soak --minutes N`.
"""
from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from stylize.bench import report
from stylize.errors import OptionError, UserError

TARGET_DRIFT_PERCENT = 5.0  # the promise: RSS within ±5 % after warm-up


@dataclass
class Settings:
    minutes: float = 20.0
    resolution: tuple[int, int] = (320, 240)
    fps: float = 30.0
    looks: str = "starry-night,great-wave,tahiti"
    warmup: float = 0.25  # share of the run before drift is measured
    sample_every: float = 1.0  # seconds between RSS / fps samples
    osc_every: float = 0.5  # seconds between OSC changes
    seed: int = 0
    name: str = "soak"
    clock: object = field(default=time.monotonic, repr=False)


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_bytes(pid: int) -> int | None:
    """The process's resident set size from /proc/PID/status; None once it has gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


class FrameCounter(threading.Thread):
    """An MJPEG viewer on http://127.0.0.1:PORT/ that counts the frames it receives."""

    MARK = b"--frame\r\n"

    def __init__(self, port: int, give_up: float):
        super().__init__(daemon=True)
        self.port, self.give_up = port, give_up
        self.frames = 0
        self.stop = threading.Event()

    def run(self) -> None:
        connection = self._connect()
        if connection is None:
            return
        tail = b""
        with connection:
            while not self.stop.is_set():
                try:
                    chunk = connection.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                data = tail + chunk
                self.frames += data.count(self.MARK)
                tail = data[-(len(self.MARK) - 1):]  # a mark split across two reads is counted once

    def _connect(self) -> socket.socket | None:
        """Retry until `live` serves (it imports torch and loads a net first) or `give_up` seconds pass."""
        deadline = time.monotonic() + self.give_up
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                connection = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            except OSError:
                self.stop.wait(0.2)
                continue
            connection.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return connection
        return None


def live_command(settings: Settings, osc_port: int, http_port: int, stats: Path) -> list[str]:
    width, height = settings.resolution
    return [sys.executable, "-m", "stylize", "live", "--source", f"testpattern:{width}x{height}@{settings.fps:g}",
            "--no-preview", "--look", settings.looks, "--duration", f"{settings.minutes * 60:g}",
            "--osc", str(osc_port), "--stream", f"http://127.0.0.1:{http_port}/", "--stats", str(stats)]


def perform(client, rng: random.Random) -> str:
    """One change a performer would make: the next look, or a new style strength."""
    if rng.random() < 0.5:
        client.send_message("/stylize/next", [])
        return "next"
    client.send_message("/stylize/alpha", round(rng.uniform(0.2, 1.0), 2))
    return "alpha"


def sample_run(settings: Settings, process: subprocess.Popen, counter: FrameCounter, osc_port: int) -> dict:
    """Samples of (seconds, RSS bytes, frames delivered) until `live` exits, with OSC changes between."""
    from pythonosc.udp_client import SimpleUDPClient

    client, rng = SimpleUDPClient("127.0.0.1", osc_port), random.Random(settings.seed)
    started = settings.clock()
    next_sample = next_change = started
    samples, changes = [], {"next": 0, "alpha": 0}
    while process.poll() is None:
        now = settings.clock()
        if now >= next_change and counter.frames:  # change looks only once frames flow
            changes[perform(client, rng)] += 1
            next_change = now + settings.osc_every
        if now >= next_sample:
            rss = rss_bytes(process.pid)
            if rss is not None:
                samples.append((round(now - started, 3), rss, counter.frames))
            next_sample = now + settings.sample_every
        time.sleep(min(0.05, settings.osc_every / 4))
    return {"samples": samples, "osc_changes": changes}


def drift(samples: list[tuple[float, int, int]], warmup: float) -> dict:
    """RSS and fps change from the first to the last fifth of the samples after the warm-up, in per cent."""
    if len(samples) < 3:
        raise OptionError(f"the soak took only {len(samples)} samples; give it more --minutes")
    end = samples[-1][0]
    steady = [s for s in samples if s[0] >= warmup * end] or samples
    fifth = max(2, len(steady) // 5)
    first, last = steady[:fifth], steady[-fifth:]

    def fps(window):
        seconds = window[-1][0] - window[0][0]
        return (window[-1][2] - window[0][2]) / seconds if seconds > 0 else 0.0

    def change(before: float, after: float) -> float:
        return round(100 * (after - before) / before, 2) if before else 0.0

    rss_first, rss_last = float(np.median([s[1] for s in first])), float(np.median([s[1] for s in last]))
    fps_first, fps_last = fps(first), fps(last)
    return {"rss_mb_first": round(rss_first / 2**20, 1), "rss_mb_last": round(rss_last / 2**20, 1),
            "rss_drift_percent": change(rss_first, rss_last), "fps_first": round(fps_first, 2),
            "fps_last": round(fps_last, 2), "fps_drift_percent": change(fps_first, fps_last),
            "warmup_seconds": round(steady[0][0], 1)}


def run(settings: Settings, out: str | os.PathLike | None = None) -> dict:
    """One soak of `settings.minutes`; writes NAME.json and NAME.png into `out` and returns the result."""
    if not settings.minutes > 0:
        raise OptionError(f"--minutes must be above 0, got {settings.minutes}")
    osc_port, http_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    with tempfile.TemporaryDirectory() as scratch:
        stats_path = Path(scratch) / "stats.json"
        process = subprocess.Popen(live_command(settings, osc_port, http_port, stats_path),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        counter = FrameCounter(http_port, give_up=settings.minutes * 60 + 120)
        counter.start()
        try:
            sampled = sample_run(settings, process, counter, osc_port)
        finally:
            counter.stop.set()
            if process.poll() is None:
                process.terminate()
            stderr = process.communicate(timeout=30)[1].decode(errors="replace").strip()
        if process.returncode != 0:
            last = stderr.splitlines()[-1] if stderr else "no message"
            raise UserError(f"the live run failed (exit {process.returncode}): {last}")
        stats = json.loads(stats_path.read_text())
    return write_result(settings, sampled, stats, stderr, out)


def write_result(settings: Settings, sampled: dict, stats: dict, summary: str, out) -> dict:
    width, height = settings.resolution
    result = {"benchmark": "soak", "machine": report.machine(), "minutes": settings.minutes,
              "source": f"testpattern:{width}x{height}@{settings.fps:g}", "looks": settings.looks,
              "target_rss_drift_percent": TARGET_DRIFT_PERCENT, **drift(sampled["samples"], settings.warmup),
              "osc_changes": sampled["osc_changes"], "live_summary": (summary.splitlines() or [""])[-1],
              "osc_refused": sum(line.startswith("stylize: OSC") for line in summary.splitlines()),
              "live_fps": stats["stages"]["engine"]["fps"], "drops": stats["drops"],
              "samples": [{"seconds": t, "rss_mb": round(rss / 2**20, 2), "frames": n}
                          for t, rss, n in sampled["samples"]]}
    result["rss_within_target"] = abs(result["rss_drift_percent"]) <= TARGET_DRIFT_PERCENT
    folder = report.results_dir(out)
    result["files"] = [str(folder / f"{settings.name}.json"), str(folder / f"{settings.name}.png")]
    report.write_json(folder / f"{settings.name}.json", result)
    report.write_png(folder / f"{settings.name}.png", plot(result)[..., ::-1])  # drawn in OpenCV's BGR
    return result


def plot(result: dict) -> np.ndarray:
    """RSS (MB) above, delivered fps below, against time in the run, as a BGR picture."""
    samples = result["samples"]
    times = [s["seconds"] for s in samples]
    rates = [0.0] + [(b["frames"] - a["frames"]) / max(1e-9, b["seconds"] - a["seconds"])
                     for a, b in zip(samples, samples[1:])]
    canvas = np.full((600, 960, 3), 255, np.uint8)
    panel(canvas, (80, 40, 930, 270), times, [s["rss_mb"] for s in samples], "RSS (MB)", (200, 120, 0),
          result["warmup_seconds"])
    panel(canvas, (80, 330, 930, 560), times, rates, "delivered fps", (40, 40, 220), result["warmup_seconds"])
    title = (f"soak {result['minutes']:g} min: RSS drift {result['rss_drift_percent']:+.1f} %, "
             f"fps drift {result['fps_drift_percent']:+.1f} % after warm-up (time in run, s)")
    cv2.putText(canvas, title, (80, 590), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def panel(canvas: np.ndarray, box: tuple[int, int, int, int], xs: list[float], ys: list[float], label: str,
          colour: tuple[int, int, int], warmup: float) -> None:
    """One line chart in `box` (left, top, right, bottom), the warm-up shaded grey."""
    left, top, right, bottom = box
    x_max, y_max = max(xs[-1], 1e-9), max(max(ys) * 1.1, 1e-9)

    def to_px(x: float, y: float) -> tuple[int, int]:
        return int(left + x / x_max * (right - left)), int(bottom - y / y_max * (bottom - top))

    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.rectangle(canvas, to_px(0, y_max), to_px(warmup, 0), (235, 235, 235), -1)
    cv2.rectangle(canvas, (left, top), (right, bottom), (0, 0, 0), 1)
    for i in range(6):
        x, y = x_max * i / 5, y_max * i / 5
        cv2.putText(canvas, f"{x:.0f}", (to_px(x, 0)[0] - 8, bottom + 18), font, 0.4, (0, 0, 0), 1)
        cv2.putText(canvas, f"{y:.0f}", (left - 45, to_px(0, y)[1] + 5), font, 0.4, (0, 0, 0), 1)
    cv2.putText(canvas, label, (left, top - 10), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    points = np.array([to_px(x, y) for x, y in zip(xs, ys)], np.int32)
    if len(points) > 1:
        cv2.polylines(canvas, [points], False, colour, 2, cv2.LINE_AA)


def format_result(result: dict) -> str:
    verdict = "within" if result["rss_within_target"] else "OUTSIDE"
    return (f"soak {result['minutes']:g} min: RSS {result['rss_mb_first']} -> {result['rss_mb_last']} MB "
            f"({result['rss_drift_percent']:+.1f} %, {verdict} ±{TARGET_DRIFT_PERCENT:g} %), fps "
            f"{result['fps_first']} -> {result['fps_last']} ({result['fps_drift_percent']:+.1f} %), "
            f"{sum(result['osc_changes'].values())} OSC changes; wrote {', '.join(result['files'])}")
