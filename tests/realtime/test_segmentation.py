"""Person segmentation on real frames of the seated family clip, and the model's lookup."""
from __future__ import annotations

import numpy as np
import pytest

from stylize.errors import InputError, WeightsError
from stylize.realtime.segmentation import PersonSegmenter

# Found by looking at frame 10 rendered with its mask (800x720): the two faces and the bookshelf behind them.
MAN_FACE = (slice(280, 320), slice(520, 560))
GIRL_FACE = (slice(410, 450), slice(310, 350))
BOOKSHELF = (slice(40, 240), slice(110, 380))


def test_faces_are_people_and_the_bookshelf_is_not(segmenter, family_frames):
    frame = family_frames[10]
    probability = segmenter(frame)
    assert probability.shape == frame.shape[:2] and probability.dtype == np.float32
    assert probability[MAN_FACE].mean() > 0.9
    assert probability[GIRL_FACE].mean() > 0.9
    assert probability[BOOKSHELF].mean() < 0.05
    assert 0.0 <= probability.min() and probability.max() <= 1.0


def test_probabilities_at_a_smaller_size_agree(segmenter, family_frames):
    frame = family_frames[0]
    small = segmenter.probabilities(frame, (200, 180))
    assert small.shape == (180, 200)
    full = segmenter(frame)
    assert abs(float(small.mean()) - float(full.mean())) < 0.01
    assert segmenter.provider == "CPU" and "2 threads" in segmenter.describe()


def test_a_cuda_engine_runs_the_model_on_the_gpu_where_onnxruntime_offers_it(weights_dir):
    import onnxruntime

    on_gpu = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    segmenter = PersonSegmenter(device="cuda")
    assert segmenter.provider == ("CUDA" if on_gpu else "CPU")
    assert PersonSegmenter(device="cpu").provider == "CPU"


def test_a_frame_that_is_not_rgb_uint8_is_refused(segmenter):
    with pytest.raises(InputError, match="HxWx3 uint8"):
        segmenter(np.zeros((32, 32), np.float32))


def test_missing_model_says_where_it_looked_and_how_to_fetch_it(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLIZE_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("STYLIZE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(WeightsError) as raised:
        PersonSegmenter()
    message = str(raised.value)
    assert "\n" not in message
    assert str(tmp_path / "weights" / "person_segmentation" / "selfie_segmentation.onnx") in message
    assert "stylize weights fetch selfie_segmentation" in message


def test_a_file_that_is_not_the_registered_model_is_refused(tmp_path):
    impostor = tmp_path / "selfie_segmentation.onnx"
    impostor.write_bytes(b"not the model")
    with pytest.raises(WeightsError, match="sha256 differs"):
        PersonSegmenter(path=impostor)
