"""Distillation at 64 px: a few steps lower the loss, the net loads everywhere, the temporal term steadies it."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from helpers import run_cli, write_clip
from stylize import api
from stylize.bench.flicker import warping_error
from stylize.errors import WeightsError
from stylize.models.distilled import DistilledNet, read_sidecar, write_net
from stylize.offline.train.config import TrainConfig
from stylize.offline.train.tasks.distill import DistillOptions, distill_look
from stylize.offline.train.trainer import Trainer
from stylize.realtime.engines import Look

pytestmark = pytest.mark.usefixtures("one_torch_thread", "weights_dir")


def _panning(count: int = 24, height: int = 64, width: int = 96) -> list[np.ndarray]:
    """A smooth random picture panning by 1.5 px a frame: the motion a temporal term is for."""
    rng = np.random.default_rng(3)
    coarse = rng.integers(0, 256, (height // 6, (width + 2 * count) // 6, 3)).astype(np.float32)
    big = cv2.resize(coarse, (width * 2 + 3 * count, height * 2), interpolation=cv2.INTER_CUBIC)
    frames = [big[:, round(3 * i):round(3 * i) + width * 2] for i in range(count)]
    return [cv2.resize(np.clip(f, 0, 255), (width, height), interpolation=cv2.INTER_AREA).astype(np.uint8)
            for f in frames]


@pytest.fixture(scope="module")
def look(tmp_path_factory, style_path):
    """A clip, its keyframes and their (very short) Gatys look."""
    folder = tmp_path_factory.mktemp("distill")
    frames = _panning()
    clip = write_clip(folder / "pan.mp4", frames, fps=12)
    api.keyframes(clip, folder / "keys", max_gap_s=1.0)
    api.offline_look("gatys", folder / "keys", folder / "look", style=style_path, size=64, steps=3, device="cpu")
    return folder, clip, frames


def _config(folder, clip, out, steps, **extra) -> TrainConfig:
    return TrainConfig(kind="distill", content_dir=str(folder / "look"), style_dir=str(clip), out=str(out),
                       crop=64, short_side=64, steps=steps, batch=2, lr=1e-3, threads=1, seed=0, **extra)


def _evaluate(trainer, pairs, frames) -> float:
    torch.manual_seed(5)  # the temporal term's shift
    return trainer.evaluate(pairs, frames)["total"]


def test_a_few_steps_lower_the_loss_and_the_net_runs_in_both_engines(look, tmp_path):
    folder, clip, frames = look
    trainer = Trainer(_config(folder, clip, tmp_path / "run", steps=6), progress=False)
    pairs, unseen = trainer.contents.fixed(2, seed=9), trainer.styles.fixed(2, seed=9)
    before = _evaluate(trainer, pairs, unseen)
    trainer.run()
    assert _evaluate(trainer, pairs, unseen) < before
    record = write_net(tmp_path / "pan.pt", trainer.task.net, {"look": "test"})
    assert read_sidecar(tmp_path / "pan.pt")["sha256"] == record["sha256"]
    method = api.load_net(tmp_path / "pan.pt")
    outputs = []
    for backend in ("torch", "onnxruntime"):
        engine = api.new_engine(backend)
        engine.set_style(Look(method, method))
        outputs.append(engine(frames[0]))
    assert outputs[0].shape == frames[0].shape
    assert np.abs(outputs[0].astype(int) - outputs[1].astype(int)).mean() < 2  # the same net in both
    done = run_cli("video", clip, "-o", tmp_path / "out.mp4", "--net", tmp_path / "pan.pt")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.mp4").stat().st_size > 0


def test_a_changed_net_file_is_refused(look, tmp_path):
    folder, clip, frames = look
    trainer = Trainer(_config(folder, clip, tmp_path / "run", steps=1), progress=False)
    write_net(tmp_path / "net.pt", trainer.task.net, {"look": "test"})
    data = bytearray((tmp_path / "net.pt").read_bytes())
    data[-20] ^= 1
    (tmp_path / "net.pt").write_bytes(bytes(data))
    method = api.load_net(tmp_path / "net.pt")
    with pytest.raises(WeightsError, match="sha256"):
        api.new_engine("torch").set_style(Look(method, method))
    (tmp_path / "net.pt.json").unlink()
    with pytest.raises(WeightsError, match="missing"):
        api.load_net(tmp_path / "net.pt")


def _flicker(folder, clip, frames, out, weight: float) -> float:
    options = DistillOptions(temporal_weight=weight, flow_weight=weight)
    distill_look(folder / "look", out, video=clip, options=options,
                 progress=False, steps=16, crop=64, short_side=64, batch=2, lr=1e-3, threads=1, seed=0)
    engine = api.new_engine("torch")
    method = api.load_net(out)
    engine.set_style(Look(method, method))
    return warping_error([engine(f) for f in frames], frames).mean


def test_the_temporal_term_lowers_the_warping_error(look, tmp_path):
    folder, clip, frames = look
    steady = _flicker(folder, clip, frames, tmp_path / "steady.pt", weight=100.0)
    loose = _flicker(folder, clip, frames, tmp_path / "loose.pt", weight=0.0)
    print(f"warping error: temporal terms (shift and flow) {steady:.6f}, without {loose:.6f}")
    assert steady < 0.9 * loose


def test_a_thinned_net_keeps_the_channels_that_carry_the_look():
    """Channels whose weights are all zero carry nothing: thinning drops those and the output stays the same."""
    torch.manual_seed(0)
    net = DistilledNet((8, 12, 16))
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d) and module.out_channels in (12, 16):
                module.weight[1::2] = 0  # every other channel of the middle and last widths
                module.bias[1::2] = 0
            if isinstance(module, torch.nn.Conv2d) and module.in_channels in (12, 16):
                module.weight[:, 1::2] = 0
    thin = net.thinned((8, 6, 8))
    frame = torch.rand(1, 3, 32, 48) * 255
    assert thin.widths == (8, 6, 8)
    assert sum(p.numel() for p in thin.parameters()) < sum(p.numel() for p in net.parameters()) / 2
    assert torch.allclose(thin(frame), net(frame), atol=1e-3)
