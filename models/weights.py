"""Weight registry and safe loading.

Every weight file the tool can use is registered here with its sha256. A file
is only ever loaded with `torch.load(..., weights_only=True)` after its hash
has been checked, so a swapped or truncated file is refused, never used.

Lookup order for a registered name:
  1. an explicit path given by the caller;
  2. the directory in $STYLIZE_WEIGHTS;
  3. the user cache, $STYLIZE_CACHE or ~/.cache/stylize;
  4. the official URL, downloaded into the cache (sha256-checked, written to a
     temporary name and renamed).
Nets this project trained itself ship inside the package (models/shipped/) and
are found before all of these.

Listing (`stylize weights list`, `where`) checks each file it shows with
`matches()`, which remembers a file's sha256 keyed by its path, size and
mtime in the user cache, so a second listing does not read every file again.
Loading never trusts that memory: `verified_load` hashes the bytes it loads.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from stylize.errors import OutputError, WeightsError
from stylize.imageio import write_atomic

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"


@dataclass(frozen=True)
class WeightSpec:
    name: str
    file: str  # path relative to a weights directory
    sha256: str
    architecture: str  # vgg | johnson | engstrom | adain-decoder | aesfa | student | segmentation
    licence: str
    size: int | None = None  # bytes, when known
    url: str | None = None  # official download, only where its bytes match sha256
    note: str = ""
    shipped: bool = False  # lives in models/shipped/ inside the package


_JOHNSON_LICENCE = "BSD-3-Clause (pytorch/examples fast_neural_style)"
_ENGSTROM_LICENCE = "MIT (ml5.js model repository)"

REGISTRY: dict[str, WeightSpec] = {}


def register(spec: WeightSpec) -> WeightSpec:
    REGISTRY[spec.name] = spec
    return spec


register(WeightSpec(
    "vgg19_r31", "vgg19_normalised/vgg_normalised_r31.pth",
    "fcf181902579b57935a2879e6f505beb3fa2c72327b841a64e0d9fd435e45913", "vgg",
    "BSD-2-Clause (LinearStyleTransfer); VGG-19 weights CC BY 4.0", size=2226197,
    note="VGG-19 normalised, truncated at relu3_1",
))
register(WeightSpec(
    "vgg19", "vgg19_normalised/vgg_normalised.pth",
    # Pinned from a public project that checked the release bytes; not
    # re-verified here because the release page is unreachable offline.
    "804ca2835ecf7539f0cd2a7ac3c18ce81e6f8468969ae7117ac0c148d286bb4a", "vgg",
    "VGG-19 weights CC BY 4.0 (pytorch-AdaIN release)",
    url="https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0/vgg_normalised.pth",
    note="full VGG-19 normalised (taps up to relu5_1)",
))
for _look, _sha, _size in [
    ("candy", "7d83fb6c74b6d7d7ff4c2cbab38733b36d3d2f9b08ea674d00f3b3100afaeeef", 6731553),
    ("mosaic", "e7ef78e088ec8164869c43ec5b800c80b3a0a72b12766f9d44c15b86d3d11ea5", 6731621),
    ("pointilism", "4329030a8d668f02c311a2d1702c1950982082caa613102833b87d9d46c2c138", 6735797),
    ("rain_princess", "239dfedbc5827537ea4314d27cf5d1dd3d15728f25b2bd1f037854d8c3911c50", 6736001),
    ("udnie", "6a9136602bc99bde91de63f1a7ddfba1c6c13b22a546414935fa5c533c9c0a53", 6731553),
]:
    register(WeightSpec(
        _look, f"fast_neural_style_johnson/{_look}.pth", _sha, "johnson", _JOHNSON_LICENCE, size=_size,
        # The official bundle (pytorch/examples download_saved_models.py) holds
        # the fp32 originals, whose bytes differ from these fp16-exact files,
        # so there is no URL whose download would pass the hash check.
        note="Johnson TransformerNet (fp16-exact recovery of the pytorch/examples net)",
    ))
for _look, _sha, _size in [
    ("scream", "5d52aee3ec10fe6a57c5bd54774dfaab53bb25480eca441a1c4f19de9914b9ca", 6722141),
    ("wave", "f8c9156a84af51a2c040f1353bf6915dc1c1b48b759bf9518a73631005b059a8", 6722033),
    ("la_muse", "6b22d248be3537d0cc495866ff6328e1c94cbe7d6fd72682e88715ae9740ffb8", 6724563),
]:
    register(WeightSpec(
        _look, f"fast_style_engstrom/{_look}.pth", _sha, "engstrom", _ENGSTROM_LICENCE, size=_size,
        note="Engstrom TF fast-style net (converted from ml5.js)",
    ))

register(WeightSpec(
    "selfie_segmentation", "person_segmentation/selfie_segmentation.onnx",
    "1511ab5564cb0ae179cba9bcad6ad931003ccc71656f11fd270967023678c6a5", "segmentation",
    "Apache-2.0 (Google MediaPipe Selfie Segmentation; ONNX conversion shipped by obs-backgroundremoval)",
    size=447596,
    url="https://github.com/royshil/obs-backgroundremoval/raw/781a6b25adbccdb1d376b7842be16f98f3295aef/"
        "data/models/selfie_segmentation.onnx",
    note="person segmentation (ONNX, 256x256 NHWC RGB in, person probability out) for --mask-mode person",
))

# Nets (and looks) this project trained itself: small fp16 files inside the
# package, registered by models/shipped/registry.json, which
# `python -m stylize.offline.ship` rewrites whenever a net is retrained.
SHIPPED_REGISTRY = SHIPPED_DIR / "registry.json"
if SHIPPED_REGISTRY.is_file():
    for _name, _entry in json.loads(SHIPPED_REGISTRY.read_text()).items():
        register(WeightSpec(_name, _entry["file"], _entry["sha256"], _entry["architecture"], _entry["licence"],
                            size=_entry.get("size"), note=_entry.get("note", ""), shipped=True))



def cache_dir() -> Path:
    return Path(os.environ.get("STYLIZE_CACHE") or Path.home() / ".cache" / "stylize")


def weights_dirs() -> list[tuple[str, Path]]:
    """The directories searched, in order, each with a label for messages."""
    dirs = []
    if os.environ.get("STYLIZE_WEIGHTS"):
        dirs.append(("$STYLIZE_WEIGHTS", Path(os.environ["STYLIZE_WEIGHTS"])))
    dirs.append(("cache", cache_dir()))
    return dirs


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


HASH_MEMORY = "verified-sha256.json"  # in cache_dir(): {path: {"size", "mtime_ns", "sha256"}}


def _hash_memory() -> dict:
    try:
        memory = json.loads((cache_dir() / HASH_MEMORY).read_text())
    except (OSError, ValueError):  # none yet, unreadable or garbled: start afresh
        return {}
    return memory if isinstance(memory, dict) else {}


def _remember(memory: dict) -> None:
    """Write the hash memory atomically; a cache that cannot be written only costs speed."""
    target = cache_dir() / HASH_MEMORY
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, json.dumps(memory, indent=1, sort_keys=True).encode())
    except (OSError, OutputError):
        pass


def known_sha256(path: Path) -> str:
    """The file's sha256, from the hash memory when its size and mtime are unchanged, else computed and kept."""
    path = Path(path).resolve()
    stat = path.stat()
    memory = _hash_memory()
    entry = memory.get(str(path))
    if isinstance(entry, dict) and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
        return str(entry.get("sha256"))
    digest = sha256_of(path)
    memory = {known: entry for known, entry in memory.items() if os.path.isfile(known)}  # forget deleted files
    memory[str(path)] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
    _remember(memory)
    return digest


def matches(path: Path, spec: WeightSpec) -> bool:
    """True when the file at `path` is the registered one (by sha256, through the hash memory)."""
    return known_sha256(path) == spec.sha256


def spec_for(name: str) -> WeightSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise WeightsError(f"unknown weights {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def candidates(spec: WeightSpec, explicit: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """Every place `spec` may be found, in lookup order."""
    places: list[tuple[str, Path]] = []
    if explicit:
        places.append(("explicit path", Path(explicit)))
    if spec.shipped:
        places.append(("shipped with stylize", SHIPPED_DIR / Path(spec.file).name))
    for label, directory in weights_dirs():
        places.append((label, directory / spec.file))
        # Also accept a flat directory of weight files.
        if Path(spec.file).name != spec.file:
            places.append((label, directory / Path(spec.file).name))
    return places


def find(name: str, explicit: str | os.PathLike | None = None) -> Path | None:
    """The first existing file for `name`, or None. Does not download."""
    spec = spec_for(name)
    for _, path in candidates(spec, explicit):
        if path.is_file():
            return path
    return None


def resolve(name: str, explicit: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Find (or download) the weights for `name`; the hash is checked by `load`."""
    spec = spec_for(name)
    found = find(name, explicit)
    if found:
        return found
    if download and spec.url:
        return _download(spec)
    looked = "; ".join(f"{label}: {path}" for label, path in candidates(spec, explicit))
    how = (f"download failed or was disabled; fetch it with `stylize weights fetch {name}`"
           if spec.url else "no official download exists for this exact file")
    raise WeightsError(
        f"weights {name!r} ({spec.file}) not found. Looked in {looked}. {how.capitalize()}, "
        f"or set STYLIZE_WEIGHTS to a directory that holds {spec.file}."
    )


def _download(spec: WeightSpec) -> Path:
    target = cache_dir() / spec.file
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(spec.url, timeout=30) as response:
            shutil.copyfileobj(response, out, 1 << 20)
        actual = sha256_of(tmp)
        if actual != spec.sha256:
            raise WeightsError(f"download of {spec.name!r} from {spec.url} has sha256 {actual}, "
                            f"expected {spec.sha256}; refusing it")
        os.replace(tmp, target)
        return target
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise WeightsError(
            f"could not download weights {spec.name!r} from {spec.url} ({exc}). "
            f"Copy the file to {target} or to $STYLIZE_WEIGHTS/{spec.file} by hand."
        ) from None
    finally:
        tmp.unlink(missing_ok=True)


# What torch.save writes: a zip archive, or (older files) a pickle, which starts with its protocol opcode.
_TORCH_FILE_STARTS = (b"PK\x03\x04", b"\x80")


def load_plain(path: str | os.PathLike, label: str):
    """torch.load(weights_only=True): tensors and plain containers only, never code.

    Every failure is one plain WeightsError naming `label` (the option or name
    the file came from): not a PyTorch file, not a plain state dict (Python
    objects inside, which are never unpickled), or truncated. torch's own
    message is not passed on: it is several lines and advises weights_only=False.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            start = handle.read(4)
    except OSError as exc:
        raise WeightsError(f"{label}: {path}: {exc.strerror or exc}") from None
    if not start.startswith(_TORCH_FILE_STARTS):
        raise WeightsError(f"{label}: {path} is not a PyTorch weights file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. torch's note about an unusual pickle protocol
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise WeightsError(f"{label}: {path} is not a plain state dict: it holds Python objects besides tensors, "
                           "which stylize never unpickles") from None
    except Exception:  # torch raises RuntimeError, EOFError, ValueError... for a cut or damaged file
        raise WeightsError(f"{label}: {path} is not a readable PyTorch weights file (truncated or damaged)") from None


def verified_load(path: Path, expected_sha256: str, label: str) -> dict[str, torch.Tensor]:
    """torch.load with weights_only=True, after the file's sha256 matched."""
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise WeightsError(f"{label}: {path} has sha256 {actual[:16]}…, expected {expected_sha256[:16]}…; "
                        "refusing to load a file that is not the registered one")
    return load_plain(path, label)


def verified_load_any(path: str | os.PathLike, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Load an explicit file that must be one of the registered `names`."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    actual = sha256_of(path)
    for name in names:
        if REGISTRY[name].sha256 == actual:
            return verified_load(path, actual, f"weights {name!r}")
    raise WeightsError(f"{path}: sha256 {actual[:16]}… matches none of the registered {', '.join(names)} files; "
                    "refusing to load it")


def load(name: str, explicit: str | os.PathLike | None = None) -> dict[str, torch.Tensor]:
    """The state dict of registered weights `name`, hash-checked."""
    spec = spec_for(name)
    return verified_load(resolve(name, explicit), spec.sha256, f"weights {name!r}")
