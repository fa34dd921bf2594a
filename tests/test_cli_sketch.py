"""`stylize sketch` through the real command line (in process, through stylize.cli.main): curves as SVG,
and the bad inputs, each one line on stderr and exit code 2."""
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest

from stylize.cli import main


def write(path, rgb: np.ndarray):
    cv2.imwrite(str(path), rgb[:, :, ::-1])
    return path


def drawing(height: int = 96, width: int = 128) -> np.ndarray:
    image = np.full((height, width, 3), 255, np.uint8)
    cv2.circle(image, (width // 2, height // 2), min(height, width) // 3, (0, 0, 0), 2)
    cv2.line(image, (10, height - 10), (width - 10, height - 10), (0, 0, 0), 3)
    return image


def one_line_error(capsys, code: int, match: str) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("stylize sketch: error: ") and match in err, err
    return err


def test_curves_only_writes_an_svg_with_one_path_per_stroke(tmp_path, capsys):
    source = write(tmp_path / "drawing.png", drawing())
    assert main(["sketch", str(source), "--curves-only", "-o", str(tmp_path / "curves.svg")]) == 0
    assert "2 strokes" in capsys.readouterr().err
    root = ET.parse(tmp_path / "curves.svg").getroot()
    paths = [e for e in root.iter() if e.tag.endswith("path")]
    assert len(paths) == 2 and all(p.get("d").startswith("M ") for p in paths)
    assert main(["sketch", str(source), "--curves-only", "-o", str(tmp_path / "curves.png")]) == 0
    assert cv2.imread(str(tmp_path / "curves.png")).shape == (96, 128, 3)


def test_a_photo_is_refused_and_says_so(tmp_path, capsys, content_path, style_path):
    code = main(["sketch", str(content_path), "--style", str(style_path), "-o", str(tmp_path / "out.png")])
    one_line_error(capsys, code, "not a line drawing")
    assert not (tmp_path / "out.png").exists()


def test_an_empty_page_is_refused(tmp_path, capsys):
    source = write(tmp_path / "empty.png", np.full((64, 64, 3), 250, np.uint8))
    code = main(["sketch", str(source), "--curves-only", "-o", str(tmp_path / "out.svg")])
    one_line_error(capsys, code, "empty")


def test_a_huge_page_is_refused_before_it_is_optimised(tmp_path, capsys):
    source = write(tmp_path / "huge.png", drawing(2100, 2100))
    code = main(["sketch", str(source), "--curves-only", "-o", str(tmp_path / "out.svg")])
    one_line_error(capsys, code, "megapixels")
    code = main(["sketch", str(source), "--curves-only", "--size", "9000", "-o", str(tmp_path / "out.svg")])
    one_line_error(capsys, code, "megapixels")


@pytest.mark.parametrize("outputs, match", [
    (["-o", "{source}"], "overwrite the input"),
    (["-o", "{dir}/out.png", "--svg", "{source}"], "--svg writes SVG"),
    (["-o", "{dir}/missing/out.png"], "does not exist"),
    (["-o", "{dir}/out.svg"], "give the SVG with --svg"),
])
def test_outputs_that_would_clobber_or_cannot_be_written_are_refused(tmp_path, capsys, outputs, match, style_path):
    source = write(tmp_path / "drawing.png", drawing())
    before = source.read_bytes()
    args = [a.format(source=source, dir=tmp_path) for a in outputs]
    code = main(["sketch", str(source), "--style", str(style_path), *args])
    one_line_error(capsys, code, match)
    assert source.read_bytes() == before


def test_it_needs_a_style_or_curves_only(tmp_path, capsys):
    source = write(tmp_path / "drawing.png", drawing())
    one_line_error(capsys, main(["sketch", str(source), "-o", str(tmp_path / "o.png")]), "--curves-only")


def test_the_python_api_gives_the_curves_and_refuses_a_photo(content_path):
    import stylize

    result = stylize.stylize_sketch(drawing(), size=64)
    assert len(result.strokes) == 2 and result.image.shape == (48, 64, 3)
    with pytest.raises(stylize.InputError, match="not a line drawing"):
        stylize.stylize_sketch(str(content_path), size=256)
