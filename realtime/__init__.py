"""The live path: sources → engine → sinks (see ../shared/DESIGN.md)."""
# OpenCV before PyAV, always: both wheels bundle libxcb extensions under the
# same file names and whichever loads first wins; PyAV's copies make an
# OpenCV (Qt) window hang.
import cv2  # noqa: F401
