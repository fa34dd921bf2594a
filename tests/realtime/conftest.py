"""Fixtures the segmentation tests share: real frames of the seated family clip, and the real segmenter."""
from __future__ import annotations

import pytest

FAMILY_FRAMES = 12  # frame 10 is the one whose faces and bookshelf were located by eye


@pytest.fixture(scope="module")
def family_frames(shared):
    av = pytest.importorskip("av")
    with av.open(str(shared / "media" / "terryky_pexels_family.mp4")) as container:
        return [frame.to_ndarray(format="rgb24") for _, frame in zip(range(FAMILY_FRAMES), container.decode(video=0))]


@pytest.fixture(scope="module")
def segmenter(weights_dir):
    from stylize.realtime.segmentation import PersonSegmenter

    return PersonSegmenter()
