"""Videos and folders on a local Ray (this machine only, started and stopped here): frame-exact joins,
a worker killed mid-segment, a driver killed and resumed, a corrupt file among good ones."""
from __future__ import annotations

import filecmp
import json
import logging
import os
import signal
import subprocess
import sys
import time

import pytest

from scale_media import audio_packets, cut_clip, frame_stamps, frames, psnr

from helpers import REPO

ray = pytest.importorskip("ray")

from stylize import api  # noqa: E402
from stylize.cli import main  # noqa: E402
from stylize.jobs import stylize_video_file  # noqa: E402
from stylize.scale.cluster import RayExecutor  # noqa: E402
from stylize.scale.jobs import Split, run_files  # noqa: E402
from stylize.scale.worker import JobSpec  # noqa: E402

BUNNY = "media/adain_cutBunny.mp4"
SIZE = 48
METHOD = "wave"
LOOK = ["--method", METHOD, "--size", str(SIZE)]
pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def cluster():
    """One local Ray for the module; its address lets a subprocess join it. Six logical CPUs: the module's
    two workers stay up while the CLI runs start their own (Ray counts CPUs, it does not measure them)."""
    ray.init(num_cpus=6, object_store_memory=128 * 1024 * 1024, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def spec() -> JobSpec:
    return JobSpec(api.make_look(METHOD), size=SIZE)


@pytest.fixture(scope="module")
def executor(cluster, spec):
    """Two workers for the module: each loads the net once."""
    with RayExecutor(ray, spec, workers=2) as workers:
        yield workers


@pytest.fixture(scope="module")
def reference(shared, spec, tmp_path_factory):
    """The whole bunny through a single-process `stylize video` (the file job), on one torch thread as each
    Ray worker runs: a different thread count may round a few of the net's pixels the other way."""
    import torch

    target = tmp_path_factory.mktemp("single") / "single.mp4"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = stylize_video_file(shared / BUNNY, target, spec.look, api.new_engine(), size=SIZE, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert result.finished
    return target


@pytest.fixture(scope="module")
def short_clip(shared, tmp_path_factory):
    return cut_clip(shared / BUNNY, tmp_path_factory.mktemp("clip") / "short.mp4", 48)


@pytest.fixture(scope="module")
def killed_run(executor, shared, spec, tmp_path_factory):
    """The bunny in 3 segments on 2 workers; the first worker seen mid-segment is killed (SIGKILL)."""
    target = tmp_path_factory.mktemp("ray") / "ray.mp4"
    killed, seen = [], {}

    def kill_one(snapshot):
        seen.update(snapshot)
        for key, (done, pid) in snapshot.items():
            if not killed and 0 < done < 80:
                os.kill(pid, signal.SIGKILL)
                killed.append((key, pid))

    outcome = run_files([(str(shared / BUNNY), str(target))], spec, executor, Split(segments=3, overlap=2),
                        progress=False, on_progress=kill_one)[0]
    return outcome, target, killed, seen


def test_segments_join_into_the_single_process_file(killed_run, reference, shared):
    outcome, target, _, _ = killed_run
    assert (outcome.status, outcome.segments, outcome.frames) == ("done", 3, 240), outcome.message
    if not filecmp.cmp(target, reference, shallow=False):  # lossless segments and one encode: usually identical
        worst = min(psnr(a, b) for a, b in zip(frames(target), frames(reference)))
        assert worst >= 40.0, f"frames differ from the single-process file: worst PSNR {worst:.1f} dB"
    assert frame_stamps(target) == frame_stamps(shared / BUNNY)
    assert audio_packets(target) == audio_packets(shared / BUNNY)


def test_a_killed_worker_is_replaced_and_its_segment_redone(killed_run):
    outcome, _, killed, seen = killed_run
    assert len(killed) == 1 and outcome.status == "done"
    key, pid = killed[0]
    done, last_pid = seen[key]
    assert done == 80 and last_pid != pid  # the segment ran again, whole, in a new worker process


def test_remuxed_segments_keep_every_frame_time_and_sound(executor, short_clip, reference, spec, tmp_path):
    target = tmp_path / "remux.mp4"
    outcome = run_files([(str(short_clip), str(target))], spec, executor, Split(segments=3, join="remux"),
                        progress=False)[0]
    assert (outcome.status, outcome.extra["join"]) == ("done", "remux")
    assert frame_stamps(target) == frame_stamps(short_clip)
    assert audio_packets(target) == audio_packets(short_clip)
    mine, single = frames(target), frames(reference)[:48]
    for index, picture in enumerate(mine):  # each frame is nearest to its own single-process frame
        errors = [float(((picture.astype(float) - other) ** 2).mean()) for other in single]
        assert min(range(len(errors)), key=errors.__getitem__) == index


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_killed_driver_resumes_from_its_finished_segments(cluster, short_clip, tmp_path, capsys):
    target = tmp_path / "resumed.mp4"
    store = tmp_path / f".{target.name}.segments"
    command = ["video", str(short_clip), "-o", str(target), *LOOK, "--segments", "3", "--workers", "1"]
    driver = subprocess.Popen([sys.executable, "-m", "stylize", *command, "--ray", cluster], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: any(store.glob("0000*.mp4")), 120, "a finished segment")
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.kill()
        driver.wait(30)
    assert not target.exists()
    assert main([*command, "--ray", cluster]) == 0  # the same command again, in this process's Ray session
    reused = int(capsys.readouterr().err.split(" reused")[0].rsplit(" ", 1)[1])
    assert reused >= 1
    assert frame_stamps(target) == frame_stamps(short_clip) and not store.exists()


def test_a_corrupt_file_fails_alone_and_a_rerun_skips_what_is_done(cluster, short_clip, tmp_path, capsys):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    os.link(short_clip, folder / "sub" / "clip.mp4")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    out = tmp_path / "out"
    assert main(["batch", str(folder), "-o", str(out), *LOOK, "--segments", "2", "--workers", "2",
                 "--ray", cluster]) == 1
    rows = {row["input"]: row for row in map(json.loads, (out / "manifest.jsonl").read_text().splitlines())}
    assert rows[str(folder / "broken.mp4")]["status"] == "failed"
    assert rows[str(folder / "sub" / "clip.mp4")]["status"] == "done"
    assert len(frame_stamps(out / "sub" / "clip.mp4")) == 48
    assert "1 done, 0 skipped (output exists), 1 failed" in capsys.readouterr().err
    assert main(["batch", str(folder), "-o", str(out), *LOOK]) == 1  # here, without Ray: nothing redone
    assert "0 done, 1 skipped (output exists), 1 failed" in capsys.readouterr().err


BLOCK_RAY = """
import sys
class NoRay:
    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
sys.meta_path.insert(0, NoRay())
from stylize.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_without_ray_the_option_names_the_extra(short_clip, tmp_path):
    result = subprocess.run([sys.executable, "-c", BLOCK_RAY, "video", str(short_clip), "-o",
                             str(tmp_path / "out.mp4"), *LOOK, "--ray"], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["stylize video: error: --ray needs Ray: pip install 'stylize[ray]'"]
