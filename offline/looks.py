"""Build the built-in looks file from public-domain paintings.

    python -m stylize.offline.looks --paintings ../shared/data/eval/style

For every look and every shipped arbitrary-style net it stores what that net
computes from the painting (see models/looks.py), so `--look starry-night`
needs no image. Only these derived statistics ship, never the paintings.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from stylize.imageio import read_image, resize_short_side
from stylize.models import looks, registry, weights, zoo
from stylize.offline.ship import ship
from stylize.tensors import frame_to_tensor

# look name -> (file in the paintings folder, title, artist, year). All public domain.
PAINTINGS = {
    "starry-night": ("gordic_vg_starry_night.jpg", "The Starry Night", "Vincent van Gogh", 1889),
    "wheat-field": ("gordic_vg_wheat_field.jpg", "Wheat Field with Cypresses", "Vincent van Gogh", 1889),
    "great-wave": ("jcj_wave.jpg", "The Great Wave off Kanagawa", "Katsushika Hokusai", 1831),
    "the-scream": ("jcj_the_scream.jpg", "The Scream", "Edvard Munch", 1893),
    "composition-vii": ("jcj_composition_vii.jpg", "Composition VII", "Wassily Kandinsky", 1913),
    "tahiti": ("gordic_tahiti_guaguin.jpg", "Tahitian Women on the Beach", "Paul Gauguin", 1891),
    "shipwreck": ("lengstrom_the_shipwreck_of_the_minotaur.jpg", "The Shipwreck of the Minotaur",
                  "J. M. W. Turner", 1810),
}
LOOKS_NAME = looks.LOOKS_WEIGHTS
NOTE = "built-in looks: style parameters of public-domain paintings"
STYLE_SIZE = 512  # short side the paintings are seen at, as in `stylize image`


def build(paintings_dir: Path) -> dict:
    nets = {method: zoo.load(method) for method in registry.arbitrary_methods()
            if registry.get(method).weights in weights.REGISTRY}
    table = {}
    for name, (file, title, artist, year) in PAINTINGS.items():
        image = frame_to_tensor(resize_short_side(read_image(paintings_dir / file), STYLE_SIZE))
        entry = {"title": title, "artist": artist, "year": year}
        for method, net in nets.items():
            entry[method] = looks.compute(method, net, image)
        table[name] = entry
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paintings", type=Path, required=True, help="folder holding the painting files")
    args = parser.parse_args()
    path = ship(LOOKS_NAME, build(args.paintings), "looks", NOTE)
    print(f"{path} ({path.stat().st_size / 1e3:.0f} kB): {', '.join(PAINTINGS)}")


if __name__ == "__main__":
    main()
