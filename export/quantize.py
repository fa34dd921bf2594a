"""int8 graphs for the CPU: static quantisation calibrated on a folder of photos.

ONNX Runtime's `quantize_static` runs the fp32 graph over calibration inputs,
records each activation's range, and writes a QDQ graph (QuantizeLinear /
DequantizeLinear pairs around the int8 ops) that ORT's CPU provider fuses into
int8 convolutions (VNNI on AVX-512 CPUs). Weights are quantised per output
channel: a decoder's channels differ in scale by orders of magnitude, and one
scale per tensor would flatten the small ones.

Calibration feeds each photo, resized to CALIBRATION_SIZE, with the styles of
the built-in looks in turn (arbitrary-style nets), so that the ranges cover
real looks rather than one. Style inputs stay float: only the convolutions
are quantised, the AdaIN statistics and the kernels predicted from a style
are not (quantising a graph input's range from a few looks would clip the
next look).
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import torch.nn as nn

from stylize.errors import InputError
from stylize.imageio import read_image
from stylize.models import looks, registry

CALIBRATION_SIZE = (192, 256)  # height, width each photo is resized to
CALIBRATION_IMAGES = 32  # photos read from the folder (sorted by name), at most
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
# Ops quantised: the convolutions carry nearly all the work; the rest stays float.
QUANTISED_OPS = ["Conv", "ConvTranspose"]


def calibration_images(folder: str | os.PathLike, limit: int = CALIBRATION_IMAGES) -> list[Path]:
    """The first `limit` photos in `folder` by name; InputError when it has none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--calibrate {folder}: not a folder of photos")
    if limit < 1:
        raise InputError(f"at least one calibration photo is needed, got a limit of {limit}")
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not photos:
        raise InputError(f"--calibrate {folder}: no photos ({', '.join(IMAGE_SUFFIXES)}) in it")
    return photos[:limit]


def calibration_styles(method: str, net: nn.Module) -> list:
    """The styles calibration cycles through: every built-in look for an arbitrary net, else [None]."""
    from stylize.export.onnx import example_style, style_feeds

    if not registry.get(method).arbitrary:
        return [None]
    example = example_style(method, net)
    shapes = {name: value.shape for name, value in style_feeds(example).items()}
    # Looks are stored for the shipped weights; a net of another width (a new design in training) skips them.
    styles = [style for style in (looks.style_for(name, method, net) for name in looks.names())
              if {name: value.shape for name, value in style_feeds(style).items()} == shapes]
    return styles or [example]


def calibration_feeds(method: str, net: nn.Module, photos: list[Path],
                      size: tuple[int, int] | None = None) -> list[dict[str, np.ndarray]]:
    """One set of graph inputs per photo: the photo in [0,1] and a look's style inputs, looks taken in turn.

    size (height, width): each photo's; None: CALIBRATION_SIZE."""
    from stylize.export.onnx import CONTENT, style_feeds

    size = size or CALIBRATION_SIZE
    styles = calibration_styles(method, net)
    feeds = []
    for index, photo in enumerate(photos):
        rgb = cv2.resize(read_image(photo), (size[1], size[0]), interpolation=cv2.INTER_AREA)
        content = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255)
        feeds.append({CONTENT: content, **style_feeds(styles[index % len(styles)])})
    return feeds


def quantize_int8(source: str | os.PathLike, target: str | os.PathLike, feeds: list[dict[str, np.ndarray]],
                  per_channel: bool = True) -> Path:
    """Write the int8 QDQ form of the fp32 graph `source` to `target`, calibrated on `feeds`."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._feeds = iter(feeds)

        def get_next(self):
            return next(self._feeds, None)

    quantize_static(str(source), str(target), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=per_channel,
                    op_types_to_quantize=QUANTISED_OPS, calibrate_method=CalibrationMethod.MinMax,
                    nodes_to_exclude=style_convolutions(source),
                    extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
    return Path(target)


def style_convolutions(path: str | os.PathLike) -> list[str]:
    """The convolutions whose kernels are graph inputs (AesFA's, predicted from the style): they stay float,
    since a range calibrated on a few looks would clip another look's kernels."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    constants = {init.name for init in graph.initializer}
    constants |= {out for node in graph.node if node.op_type == "Constant" for out in node.output}
    return [node.name for node in graph.node
            if node.op_type in QUANTISED_OPS and len(node.input) > 1 and node.input[1] not in constants]
