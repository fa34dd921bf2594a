"""Atomic writes: temp name then rename for files, straight writes for devices and pipes."""
from __future__ import annotations

import os
import stat
import threading

import pytest

from stylize.errors import OutputError
from stylize.imageio import write_atomic


def test_a_file_is_replaced_whole(tmp_path):
    target = tmp_path / "stats.json"
    target.write_bytes(b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["stats.json"]  # no temporary left behind


def test_a_pipe_stays_a_pipe(tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, b"through the pipe")
    reader.join(10)
    assert received == [b"through the pipe"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_device_stays_a_device(tmp_path):
    # A private copy of /dev/null: renaming over the real one would replace it for the whole machine.
    device = tmp_path / "null"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    write_atomic(device, b"discarded")
    assert stat.S_ISCHR(device.stat().st_mode)


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(OutputError, match="is a folder"):
        write_atomic(tmp_path, b"x")
