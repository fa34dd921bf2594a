"""The public Python API: stylize.methods/look/engine/stylize_image/stylize_video, and the CLI on top of it."""
import subprocess
import sys

import cv2
import numpy as np
import pytest

import stylize
from helpers import REPO, run_cli
from stylize.errors import InputError, OptionError, StylizeError
from stylize.models import registry

CHELSEA = "data/eval/content/skimage_chelsea.jpg"


@pytest.fixture(scope="module")
def photo(shared):
    return shared / CHELSEA


def test_import_stylize_loads_no_torch():
    code = "import sys, stylize; assert 'torch' not in sys.modules; stylize.methods; assert 'torch' in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_methods_say_what_each_needs(weights_dir):
    table = {m.name: m for m in stylize.methods()}
    assert set(registry.methods()) | {"gatys"} == set(table) and {"candy", "student", "adain"} <= set(table)
    assert table["candy"].fixed_look and table["candy"].weights_found
    assert table["student"].style_kind == "adain" and not table["student"].needs_vgg
    assert table["aesfa"].style_kind == "aesfa"
    assert table["adain"].needs_vgg and table["gatys"].needs_vgg and not table["gatys"].realtime


def test_methods_see_missing_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLIZE_WEIGHTS", str(tmp_path))
    table = {m.name: m for m in stylize.methods()}
    assert not table["candy"].weights_found and not table["adain"].weights_found
    assert table["student"].weights_found  # ships inside the package


@pytest.mark.parametrize("options, flags", [
    (dict(look="starry-night", alpha=0.7, preserve_color="match", size=200),
     ["--look", "starry-night", "--alpha", "0.7", "--preserve-color", "match", "--size", "200"]),
    (dict(method="candy", preserve_color="luminance", size=150),
     ["--method", "candy", "--preserve-color", "luminance", "--size", "150"]),
])
def test_cli_and_api_give_the_same_pixels(photo, tmp_path, weights_dir, options, flags):
    out = tmp_path / "cli.png"
    result = run_cli("image", photo, *flags, "-o", out)
    assert result.returncode == 0, result.stderr.decode()
    from_cli = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(stylize.stylize_image(photo, **options), from_cli)


def test_array_or_path_and_engine_agree(photo, one_torch_thread):
    rgb = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    by_path = stylize.stylize_image(photo, look="great-wave", method="student")
    np.testing.assert_array_equal(stylize.stylize_image(rgb, look="great-wave", method="student"), by_path)
    engine = stylize.engine("student", backend="auto")
    engine.set_style(stylize.look("great-wave"))
    np.testing.assert_array_equal(engine(rgb), by_path)


def test_engine_takes_a_look_made_for_another_net(photo, one_torch_thread):
    rgb = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    engine = stylize.engine("aesfa")
    engine.set_style(stylize.look("great-wave"))  # the student's by default: re-targeted to AesFA
    assert engine.engine.look.method == "aesfa"
    np.testing.assert_array_equal(engine(rgb), stylize.stylize_image(rgb, look="great-wave", method="aesfa"))


def test_painting_style_and_mask(photo, shared, one_torch_thread):
    painting = sorted((shared / "data" / "eval" / "style").glob("*.jpg"))[0]
    rgb = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    mask = np.zeros(rgb.shape[:2], np.float32)
    mask[:, rgb.shape[1] // 2:] = 1
    out = stylize.stylize_image(rgb, style=painting, mask=mask)
    assert np.abs(out[:, :100].astype(int) - rgb[:, :100]).max() <= 1
    assert np.abs(out[:, -100:].astype(int) - rgb[:, -100:]).mean() > 10


def test_fast_net_engine_is_ready_at_once(weights_dir, one_torch_thread):
    frame = np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    engine = stylize.engine("candy")
    assert engine(frame).shape == frame.shape
    with pytest.raises(OptionError, match="style first"):
        stylize.engine("student")(frame)


def test_engine_with_a_working_size_paints_fewer_pixels_and_returns_the_frame_size(weights_dir, one_torch_thread):
    frame = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    engine = stylize.engine("candy", work_size="64x48")
    assert engine.engine.work_pixels == 64 * 48
    assert engine(frame).shape == frame.shape
    assert stylize.engine("candy", work_size="auto").engine.work_pixels == 640 * 480  # the CPU's budget
    assert stylize.engine("candy").engine.work_pixels is None  # every pixel unless asked
    with pytest.raises(OptionError, match="work size"):
        stylize.engine("candy", work_size="tiny")


@pytest.mark.parametrize("call, error, needle", [
    (lambda p: stylize.stylize_image(p, method="vangogh"), OptionError, "unknown method"),
    (lambda p: stylize.stylize_image(p, look="mona"), OptionError, "unknown look"),
    (lambda p: stylize.stylize_image(p, look="great-wave", style=p), OptionError, "not both"),
    (lambda p: stylize.stylize_image(p, method="candy", look="great-wave"), OptionError, "fixed look"),
    (lambda p: stylize.stylize_image(p, look="great-wave", alpha=3), OptionError, "alpha"),
    (lambda p: stylize.stylize_image(p, look="great-wave", backend="tpu"), OptionError, "backend"),
    (lambda p: stylize.stylize_image(p, look="great-wave", preserve_color="sepia"), OptionError, "preserve"),
    (lambda p: stylize.stylize_image(p.with_name("nope.jpg"), look="great-wave"), InputError, "no such file"),
    (lambda p: stylize.stylize_image(np.zeros((4, 4)), look="great-wave"), InputError, "HxWx3"),
    (lambda p: stylize.stylize_video(p, "out.mp4", method="gatys", style=p), OptionError, "gatys"),
])
def test_errors_are_typed(photo, call, error, needle):
    with pytest.raises(error, match=needle) as caught:
        call(photo)
    assert isinstance(caught.value, StylizeError)


def test_stylize_video(shared, tmp_path, weights_dir, one_torch_thread):
    out = tmp_path / "bunny.mp4"
    result = stylize.stylize_video(shared / "media" / "adain_cutBunny.mp4", out, method="wave", size=48,
                                   stats=tmp_path / "stats.json")
    assert isinstance(result, stylize.VideoResult) and result.finished
    assert (result.frames, result.width, result.height) == (240, 48, 28)  # H.264 wants even sizes
    assert result.stats["stopped"] == "end of stream" and (tmp_path / "stats.json").is_file()
