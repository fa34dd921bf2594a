"""Sinks: where stylized frames go.

Every sink implements `Sink` (base.py): `open(width, height, fps)`, then
`write(frame)` per `Frame`, `end_of_stream()` when the source ended normally,
and `close()`, which always finalises (idempotent, safe after errors).

- `PreviewWindow` (preview.py): the performer's window: HUD, hotkeys
  (`HOTKEYS`), original / stylized / split view, screenshots, fullscreen.
- `VideoWriter` (video.py): H.264 (else MPEG-4) file through PyAV; the source's
  audio is remuxed untouched; temporary name, then rename; an interrupted file
  is still finalised and plays.
- `VirtualCamera` (vcam.py): a virtual webcam through pyvirtualcam (the
  optional extra `vcam`: `pip install 'stylize[vcam]'`).
- `NetworkStream` (network.py): MPEG-TS over `udp://` (or `srt://` where
  PyAV's FFmpeg has SRT), or MJPEG over `http://`, for OBS and players.

OBS settings
------------
Start `stylize live --stream udp://127.0.0.1:9000`, then in OBS add a
*Media Source*: untick *Local File*; *Input*: `udp://127.0.0.1:9000`;
*Input Format*: `mpegts`; untick *Restart playback when source becomes
active*; set *Network Buffering* to 0 MB for the lowest latency. A keyframe
is sent every second, so OBS may be started before or after stylize. For
MJPEG, stream to `http://127.0.0.1:8080/` and use the same Media Source with
input `http://127.0.0.1:8080/` and input format `mpjpeg` (or open the URL in
a browser). For SRT, give OBS `srt://127.0.0.1:9000?mode=listener` and stream
to `srt://127.0.0.1:9000`; start OBS first. Everything binds to or sends to
127.0.0.1 unless the URL names another host.
"""
# OpenCV first: PyAV and OpenCV's Qt both bundle libxcb-shape/shm/xfixes under
# the same file names, and whichever loads first is used by both. PyAV's copies
# talk to PyAV's own libxcb, so a Qt window opened after `import av` hangs.
import cv2  # noqa: F401  (must precede every `import av`)

import importlib  # noqa: E402

from stylize.realtime.sinks.base import Sink  # noqa: E402

# The sinks that need PyAV (network, video) load when first named, so the engine and the
# pipeline import on a machine without PyAV (the GPU machine has none).
_LAZY = {"NetworkStream": "network", "HOTKEYS": "preview", "PreviewWindow": "preview",
         "format_hotkeys": "preview", "VirtualCamera": "vcam", "VideoWriter": "video"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"stylize.realtime.sinks.{_LAZY[name]}"), name)


__all__ = ["HOTKEYS", "NetworkStream", "PreviewWindow", "Sink", "VideoWriter", "VirtualCamera", "format_hotkeys"]
