"""`stylize looks`: the built-in looks, each precomputed from a public-domain painting."""
from __future__ import annotations

import argparse
import json

from stylize.cli import sentence
from stylize.models import looks, registry

HELP = "list the built-in looks (for --look in image, video and live)"
EXAMPLES = f"""examples:
  stylize looks                                   # name, painting, artist, year
  stylize looks --json                            # the same for scripts
  stylize image photo.jpg --look great-wave -o out.jpg

A look needs no painting at run time and works with every arbitrary-style net
({', '.join(registry.arbitrary_methods())}; --method picks one). `stylize image --list-looks`
prints the same list.
"""


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("looks", parents=parents, help=HELP, description=sentence(HELP),
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print JSON: a list of {name, painting}")
    p.set_defaults(run=run)


def list_looks(as_json: bool = False) -> int:
    """Print every built-in look on stdout, one a line (or as JSON); the exit code, 0."""
    names = looks.names()
    if as_json:
        print(json.dumps([{"name": name, "painting": looks.describe(name)} for name in names], indent=2))
    elif not names:
        print("this build has no built-in looks installed; use --style PAINTING.jpg")
    else:
        for name in names:
            print(f"{name:<18}{looks.describe(name)}")
    return 0


def run(args) -> int:
    return list_looks(as_json=args.json)
