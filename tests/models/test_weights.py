import hashlib
import json
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest
import torch

from stylize.errors import UserError
from stylize.models import weights


def test_loads_registered_weights_with_hash_check(weights_dir):
    state = weights.load("candy")
    assert "conv1.conv2d.weight" in state


def test_tampered_file_is_refused(weights_dir, tmp_path, monkeypatch):
    spec = weights.spec_for("vgg19_r31")
    copy = tmp_path / spec.file
    copy.parent.mkdir(parents=True)
    data = bytearray((weights_dir / spec.file).read_bytes())
    data[-100] ^= 0xFF
    copy.write_bytes(bytes(data))
    monkeypatch.setenv("STYLIZE_WEIGHTS", str(tmp_path))
    with pytest.raises(UserError, match="sha256"):
        weights.load("vgg19_r31")


def test_missing_file_names_every_place_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLIZE_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("STYLIZE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError) as error:
        weights.load("candy", explicit=tmp_path / "nope.pth")
    message = str(error.value)
    for place in ("nope.pth", str(tmp_path / "weights"), str(tmp_path / "cache"), "STYLIZE_WEIGHTS"):
        assert place in message


def test_explicit_path_comes_first(weights_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLIZE_WEIGHTS", str(tmp_path))
    explicit = tmp_path / "my_candy.pth"
    shutil.copy(weights_dir / weights.spec_for("candy").file, explicit)
    assert weights.resolve("candy", explicit) == explicit
    assert "in1.weight" in weights.load("candy", explicit)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def file_server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    handler = lambda *a, **k: _Quiet(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _served_spec(root: Path, base: str, sha: str | None = None) -> weights.WeightSpec:
    path = root / "tiny.pth"
    torch.save({"w": torch.arange(4.0)}, path)
    digest = sha or hashlib.sha256(path.read_bytes()).hexdigest()
    return weights.WeightSpec("test_tiny", "tiny/tiny.pth", digest, "test", "CC0", url=f"{base}/tiny.pth")


def test_download_goes_to_cache_with_hash_check(file_server, tmp_path, monkeypatch):
    root, base = file_server
    monkeypatch.setenv("STYLIZE_WEIGHTS", str(tmp_path / "empty"))
    monkeypatch.setenv("STYLIZE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(weights.REGISTRY, "test_tiny", _served_spec(root, base))
    state = weights.load("test_tiny")
    assert torch.equal(state["w"], torch.arange(4.0))
    cached = tmp_path / "cache" / "tiny" / "tiny.pth"
    assert cached.is_file()
    assert not [p for p in cached.parent.iterdir() if p.name != "tiny.pth"]  # no temp leftovers


def test_download_with_wrong_hash_is_refused_and_not_kept(file_server, tmp_path, monkeypatch):
    root, base = file_server
    monkeypatch.setenv("STYLIZE_WEIGHTS", str(tmp_path / "empty"))
    monkeypatch.setenv("STYLIZE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(weights.REGISTRY, "test_tiny", _served_spec(root, base, sha="0" * 64))
    with pytest.raises(UserError, match="refusing"):
        weights.load("test_tiny")
    assert not list((tmp_path / "cache").rglob("*.pth*"))


def test_unreachable_download_gives_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLIZE_WEIGHTS", str(tmp_path / "empty"))
    monkeypatch.setenv("STYLIZE_CACHE", str(tmp_path / "cache"))
    spec = weights.WeightSpec("test_gone", "gone.pth", "0" * 64, "test", "CC0", url="http://127.0.0.1:9/gone.pth")
    monkeypatch.setitem(weights.REGISTRY, "test_gone", spec)
    with pytest.raises(UserError, match="could not download .* by hand"):
        weights.load("test_gone")


def test_pickled_objects_are_never_unpickled(tmp_path, monkeypatch):
    """Even a file with the registered hash loads with weights_only=True."""
    evil = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(1), "call": os.system}, evil)  # a global that only full unpickling resolves
    digest = hashlib.sha256(evil.read_bytes()).hexdigest()
    with pytest.raises(UserError, match="is not a plain state dict"):
        weights.verified_load(evil, digest, "evil")


def _tampered_candy(weights_dir: Path, root: Path) -> Path:
    spec = weights.spec_for("candy")
    copy = root / spec.file
    copy.parent.mkdir(parents=True)
    data = bytearray((weights_dir / spec.file).read_bytes())
    data[-100] ^= 0xFF  # same size, other bytes
    copy.write_bytes(bytes(data))
    return copy


def _listed(run_cli, env: dict) -> dict[str, str]:
    result = run_cli("weights", "list", env=env)
    assert result.returncode == 0, result.stderr
    return {line.split()[0]: line for line in result.stdout.decode().splitlines() if not line.startswith(" ")}


def test_weights_list_shows_a_tampered_file_as_not_usable(weights_dir, tmp_path, cli):
    copy = _tampered_candy(weights_dir, tmp_path / "weights")
    env = {"STYLIZE_WEIGHTS": str(tmp_path / "weights"), "STYLIZE_CACHE": str(tmp_path / "cache")}
    line = _listed(cli, env)["candy"]
    assert f"{copy} is NOT the registered file (sha256 differs); it will not be used" in line
    shutil.copy(weights_dir / weights.spec_for("candy").file, copy)  # the real bytes back: listed as found
    assert _listed(cli, env)["candy"].endswith(f"  {copy}")


def test_hashes_are_remembered_by_path_size_and_mtime(weights_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLIZE_CACHE", str(tmp_path / "cache"))
    copy = _tampered_candy(weights_dir, tmp_path / "weights")
    spec = weights.spec_for("candy")
    assert not weights.matches(copy, spec)
    memory_file = tmp_path / "cache" / weights.HASH_MEMORY
    memory = json.loads(memory_file.read_text())
    entry = memory[str(copy.resolve())]
    assert entry["size"] == copy.stat().st_size and entry["mtime_ns"] == copy.stat().st_mtime_ns
    assert [p.name for p in memory_file.parent.iterdir()] == [weights.HASH_MEMORY]  # written atomically
    # The remembered hash is what listing uses while size and mtime stand...
    entry["sha256"] = spec.sha256
    memory_file.write_text(json.dumps(memory))
    assert weights.matches(copy, spec)
    # ...and a changed mtime makes it hash the file again.
    os.utime(copy, ns=(entry["mtime_ns"] + 10**9, entry["mtime_ns"] + 10**9))
    assert not weights.matches(copy, spec)
    # Loading never trusts the memory.
    with pytest.raises(UserError, match="sha256"):
        weights.verified_load(copy, spec.sha256, "candy")


def test_the_hash_memory_forgets_deleted_files(weights_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLIZE_CACHE", str(tmp_path / "cache"))
    gone = _tampered_candy(weights_dir, tmp_path / "old")
    weights.matches(gone, weights.spec_for("candy"))
    gone.unlink()
    weights.matches(weights_dir / weights.spec_for("candy").file, weights.spec_for("candy"))
    assert str(gone.resolve()) not in json.loads((tmp_path / "cache" / weights.HASH_MEMORY).read_text())


def test_a_garbled_hash_memory_is_rebuilt(weights_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLIZE_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / weights.HASH_MEMORY).write_text("{not json")
    path = weights_dir / weights.spec_for("candy").file
    assert weights.matches(path, weights.spec_for("candy"))
    assert str(path.resolve()) in json.loads((tmp_path / "cache" / weights.HASH_MEMORY).read_text())
