"""`stylize image` end to end through the real entry point, including every bad input."""
import json

import cv2
import numpy as np
import pytest

from helpers import solid_rgb


def _photo(path, height=48, width=64, seed=0):
    cv2.imwrite(str(path), solid_rgb(height, width, seed))
    return path


def _one_line_error(result, *needles):
    assert result.returncode == 2, result.stderr.decode()
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------- round trips --
def test_fast_net_keeps_input_size(cli, tmp_path, weights_dir):
    out = tmp_path / "out.png"
    result = cli("image", _photo(tmp_path / "in.png", 50, 70), "--method", "candy", "-o", out)
    assert result.returncode == 0, result.stderr.decode()
    image = cv2.imread(str(out))
    assert image.shape == (50, 70, 3)
    assert not list(tmp_path.glob("*.part"))


def test_size_sets_long_side_and_json_reports(cli, tmp_path, weights_dir):
    out = tmp_path / "out.jpg"
    result = cli("image", _photo(tmp_path / "in.png", 60, 90), "--method", "scream", "--size", "45",
                 "--json", "-o", out)
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout.decode().strip())
    assert (report["width"], report["height"]) == (45, 30)
    assert cv2.imread(str(out)).shape == (30, 45, 3)


def test_folder_in_folder_out(cli, tmp_path, weights_dir):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        _photo(src / f"p{i}.png", seed=i)
    (src / "notes.txt").write_text("not an image, skipped by the folder scan")
    result = cli("image", src, "--method", "mosaic", "-o", tmp_path / "dst")
    assert result.returncode == 0, result.stderr.decode()
    assert sorted(p.name for p in (tmp_path / "dst").iterdir()) == ["p0.png", "p1.png", "p2.png"]


def test_stdin_to_stdout(cli, tmp_path, weights_dir):
    ok, encoded = cv2.imencode(".jpg", solid_rgb(40, 40))
    result = cli("image", "-", "--method", "udnie", "-o", "-", input=encoded.tobytes())
    assert result.returncode == 0, result.stderr.decode()
    decoded = cv2.imdecode(np.frombuffer(result.stdout, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (40, 40, 3)


def test_alpha_zero_returns_the_photo(cli, tmp_path, weights_dir):
    photo = _photo(tmp_path / "in.png")
    out = tmp_path / "out.png"
    assert cli("image", photo, "--method", "candy", "--alpha", "0", "-o", out).returncode == 0
    assert np.abs(cv2.imread(str(out)).astype(int) - cv2.imread(str(photo)).astype(int)).max() <= 1


def test_mask_limits_the_style_and_is_resized(cli, tmp_path, weights_dir):
    photo = _photo(tmp_path / "in.png", 40, 60)
    mask = np.zeros((20, 30), np.uint8)
    mask[:, 15:] = 255  # right half stylized; a different size than the photo on purpose
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    out = tmp_path / "out.png"
    result = cli("image", photo, "--method", "candy", "--mask", tmp_path / "mask.png", "-o", out)
    assert result.returncode == 0, result.stderr.decode()
    styled, original = cv2.imread(str(out)).astype(int), cv2.imread(str(photo)).astype(int)
    assert np.abs(styled[:, :25] - original[:, :25]).max() <= 1
    assert np.abs(styled[:, 35:] - original[:, 35:]).mean() > 20


@pytest.mark.parametrize("kind", ["gray", "rgba", "16bit"])
def test_unusual_pngs_are_handled(cli, tmp_path, weights_dir, kind):
    rgb = solid_rgb(32, 32)
    image = {"gray": rgb[:, :, 0],
             "rgba": np.dstack([rgb, np.full((32, 32), 128, np.uint8)]),
             "16bit": rgb.astype(np.uint16) * 257}[kind]
    cv2.imwrite(str(tmp_path / "in.png"), image)
    out = tmp_path / "out.png"
    result = cli("image", tmp_path / "in.png", "--method", "candy", "-o", out)
    assert result.returncode == 0, result.stderr.decode()
    assert cv2.imread(str(out), cv2.IMREAD_UNCHANGED).shape == (32, 32, 3)


# ------------------------------------------------------------ bad input --
def test_missing_file(cli, tmp_path):
    _one_line_error(cli("image", tmp_path / "nope.jpg", "--method", "candy", "-o", tmp_path / "o.png"),
                    "no such file")
    assert not (tmp_path / "o.png").exists()


def test_truncated_jpeg(cli, tmp_path, content_path):
    data = content_path.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    _one_line_error(cli("image", tmp_path / "cut.jpg", "--method", "candy", "-o", tmp_path / "o.png"),
                    "truncated")
    assert not list(tmp_path.glob("o.png*"))


def test_corrupt_jpeg(cli, tmp_path, content_path):
    data = bytearray(content_path.read_bytes())
    data[200:4000] = b"\x00" * 3800  # wreck the headers and the first scan
    (tmp_path / "bad.jpg").write_bytes(bytes(data))
    _one_line_error(cli("image", tmp_path / "bad.jpg", "--method", "candy", "-o", tmp_path / "o.png"))
    assert not (tmp_path / "o.png").exists()


def test_not_an_image(cli, tmp_path):
    (tmp_path / "notes.png").write_text("hello, I am text")
    _one_line_error(cli("image", tmp_path / "notes.png", "--method", "candy", "-o", tmp_path / "o.png"),
                    "not a readable image")


def test_one_pixel_image(cli, tmp_path):
    cv2.imwrite(str(tmp_path / "dot.png"), np.zeros((1, 1, 3), np.uint8))
    _one_line_error(cli("image", tmp_path / "dot.png", "--method", "candy", "-o", tmp_path / "o.png"), "1x1")


def test_unknown_method(cli, tmp_path):
    _one_line_error(cli("image", _photo(tmp_path / "in.png"), "--method", "vangogh", "-o", tmp_path / "o.png"),
                    "unknown method 'vangogh'")


def test_unknown_style_file(cli, tmp_path):
    _one_line_error(cli("image", _photo(tmp_path / "in.png"), "--style", tmp_path / "starry.jpg",
                        "-o", tmp_path / "o.png"), "starry.jpg", "no such file")


@pytest.mark.parametrize("alpha", ["1.5", "-0.1"])
def test_alpha_out_of_range(cli, tmp_path, alpha):
    _one_line_error(cli("image", _photo(tmp_path / "in.png"), "--method", "candy", "--alpha", alpha,
                        "-o", tmp_path / "o.png"), "--alpha")


def test_unreadable_mask(cli, tmp_path):
    (tmp_path / "mask.png").write_bytes(b"garbage")
    _one_line_error(cli("image", _photo(tmp_path / "in.png"), "--method", "candy", "--mask",
                        tmp_path / "mask.png", "-o", tmp_path / "o.png"), "mask.png")


def test_output_in_missing_directory(cli, tmp_path):
    _one_line_error(cli("image", _photo(tmp_path / "in.png"), "--method", "candy",
                        "-o", tmp_path / "no" / "such" / "o.png"), "does not exist")


def test_argparse_errors_are_one_line_too(cli, tmp_path):
    _one_line_error(cli("image", _photo(tmp_path / "in.png"), "--method", "candy", "--alpha", "lots",
                        "-o", tmp_path / "o.png"), "--alpha")


def test_debug_shows_the_traceback(cli, tmp_path):
    result = cli("image", tmp_path / "nope.jpg", "--method", "candy", "-o", tmp_path / "o.png", "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr.decode()


def test_every_verb_teaches_by_example(cli):
    for verb in ("image", "weights", "info"):
        result = cli(verb, "--help")
        assert result.returncode == 0
        assert "examples:" in result.stdout.decode()


def test_info_reports_weights(cli, weights_dir):
    result = cli("info", "--json")
    info = json.loads(result.stdout)
    assert info["weights"]["candy"].endswith("candy.pth")
    assert "CPUExecutionProvider" in info["onnxruntime_providers"]


def test_weights_where_and_missing(cli, tmp_path, weights_dir):
    where = cli("weights", "where", "scream")
    assert where.returncode == 0 and where.stdout.decode().strip().endswith("scream.pth")
    missing = cli("weights", "where", "candy", env={"STYLIZE_WEIGHTS": str(tmp_path)})
    _one_line_error(missing, "not found", str(tmp_path))


# ------------------------------------------------ colour and backend --
def _rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(float)


def test_preserve_color_works_with_a_look(cli, tmp_path, content_path):
    outputs = {}
    for mode in ("none", "luminance", "match"):
        out = tmp_path / f"{mode}.png"
        flags = [] if mode == "none" else ["--preserve-color", mode]
        result = cli("image", content_path, "--look", "starry-night", "--size", "128", *flags, "-o", out)
        assert result.returncode == 0, result.stderr.decode()
        outputs[mode] = _rgb(out)
    photo = cv2.resize(_rgb(content_path), outputs["none"].shape[1::-1], interpolation=cv2.INTER_AREA)

    def colour_gap(image):  # how far the picture's mean colour is from the photo's
        return np.abs(image.reshape(-1, 3).mean(0) - photo.reshape(-1, 3).mean(0)).sum()

    assert np.abs(outputs["match"] - outputs["none"]).mean() > 3
    assert np.abs(outputs["match"] - outputs["luminance"]).mean() > 1  # two different modes
    assert colour_gap(outputs["match"]) < 0.5 * colour_gap(outputs["none"])


def test_onnxruntime_backend_gives_the_torch_picture(cli, tmp_path, content_path):
    pictures = []
    for backend in ("torch", "onnxruntime"):
        out = tmp_path / f"{backend}.png"
        result = cli("image", content_path, "--look", "great-wave", "--size", "96", "--backend", backend, "-o", out)
        assert result.returncode == 0, result.stderr.decode()
        pictures.append(_rgb(out))
    assert np.abs(pictures[0] - pictures[1]).max() <= 3


def test_unknown_backend_and_colour_mode_are_usage_errors(cli, tmp_path):
    for flags in (["--backend", "tpu"], ["--preserve-color", "sepia"]):
        _one_line_error(cli("image", _photo(tmp_path / "in.png"), "--look", "great-wave", *flags,
                            "-o", tmp_path / "o.png"), flags[0])

