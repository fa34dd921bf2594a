"""VirtualCamera: the stylized picture as a webcam other apps (OBS, Zoom, Meet) can pick.

Needs the optional extra `vcam` (pyvirtualcam, GPL-2.0, hence optional) and a
backend: v4l2loopback on Linux, OBS Virtual Camera on Windows and macOS.
"""
from __future__ import annotations

import sys
from fractions import Fraction

import cv2

from stylize.errors import UserError
from stylize.realtime.frames import Frame
from stylize.realtime.sinks.base import Sink

INSTALL_PACKAGE = "pip install 'stylize[vcam]'"


def backend_hint() -> str:
    if sys.platform.startswith("linux"):
        return ("install v4l2loopback and load it: sudo apt install v4l2loopback-dkms && "
                "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=stylize")
    return "install OBS Studio 28 or newer and start its Virtual Camera once"


class VirtualCamera(Sink):
    """Sends frames to a virtual webcam; `device` picks one (e.g. /dev/video10), `backend` forces one."""

    name = "vcam"

    def __init__(self, device: str | None = None, backend: str | None = None):
        self.device, self.backend = device, backend
        self._camera = None
        self._size = (0, 0)

    def open(self, width: int, height: int, fps: float | Fraction) -> None:
        try:
            import pyvirtualcam
        except ImportError:
            raise UserError(f"--vcam needs the optional package pyvirtualcam: {INSTALL_PACKAGE}, "
                            f"then {backend_hint()}") from None
        try:
            self._camera = pyvirtualcam.Camera(width, height, float(fps) or 30.0, fmt=pyvirtualcam.PixelFormat.RGB,
                                               device=self.device, backend=self.backend)
        except (RuntimeError, ValueError) as exc:
            # pyvirtualcam's message is long; its first sentence names the backend and what is missing.
            reason = str(exc).split(". ")[0].strip() or type(exc).__name__
            raise UserError(f"no virtual camera available ({reason}); {backend_hint()}") from None
        self._size = (width, height)
        self.name = f"vcam {self._camera.device}"

    def write(self, frame: Frame) -> None:
        image = frame.image
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        # No sleep_until_next_frame(): the pipeline sets the pace.
        self._camera.send(image)

    def close(self) -> None:
        if self._camera is not None:
            camera, self._camera = self._camera, None
            camera.close()
