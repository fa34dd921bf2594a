"""offline/ship.py writes where it is told (or into ./models/shipped), never beside its own file."""
from __future__ import annotations

import json

import pytest
import torch

from stylize.errors import UserError
from stylize.models import weights
from stylize.models.weights import SHIPPED_DIR, sha256_of
from stylize.offline.ship import ship


def _state():
    return {"conv.weight": torch.randn(4, 3, 3, 3), "conv.bias": torch.randn(4), "steps": torch.tensor(7)}


def _snapshot():
    return {path.name: path.stat().st_mtime_ns for path in SHIPPED_DIR.iterdir()}


def test_ships_fp16_with_its_registry_entry_into_the_given_folder(tmp_path):
    before = _snapshot()
    path = ship("tiny", _state(), "student", "a test net", tmp_path)
    assert path == tmp_path / "tiny.pt"
    saved = torch.load(path, weights_only=True)
    assert saved["conv.weight"].dtype == torch.float16 and saved["steps"].dtype == torch.int64
    entry = json.loads((tmp_path / "registry.json").read_text())["tiny"]
    assert entry["sha256"] == sha256_of(path) and entry["size"] == path.stat().st_size
    assert entry["architecture"] == "student" and entry["note"] == "a test net"
    assert _snapshot() == before  # the package's own folder is untouched
    assert "tiny" not in weights.REGISTRY  # another folder is not what this process reads


def test_the_default_folder_is_models_shipped_in_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "models" / "shipped").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    ship("first", _state(), "student", "one")
    ship("second", _state(), "aesfa", "two")
    registry = json.loads((tmp_path / "models" / "shipped" / "registry.json").read_text())
    assert sorted(registry) == ["first", "second"]
    assert not list((tmp_path / "models" / "shipped").glob("*.part"))


def test_a_missing_folder_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="run from the repository root"):
        ship("tiny", _state(), "student", "a test net")
    assert not list(tmp_path.iterdir())
