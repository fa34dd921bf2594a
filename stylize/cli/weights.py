"""`stylize weights`: list, locate and fetch the registered weight files."""
from __future__ import annotations

import argparse

from stylize.cli import sentence
from stylize.errors import UserError
from stylize.models import weights

HELP = "list, locate and fetch weight files"
EXAMPLES = """examples:
  stylize weights list              # every registered file, where it was found
  stylize weights where candy       # print the path of one file (exit 2 if missing)
  stylize weights fetch vgg19       # download into the cache, sha256-checked

Lookup order: an explicit path, $STYLIZE_WEIGHTS, $STYLIZE_CACHE (default
~/.cache/stylize), then the official URL where one exists. Every file is
checked against its registered sha256 before use.
"""


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("weights", parents=parents, help=HELP, description=sentence(HELP),
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["list", "where", "fetch"], help="what to do")
    p.add_argument("name", nargs="?", help="registered name (for where and fetch)")
    p.set_defaults(run=run)


def run(args) -> int:
    if args.action == "list":
        column = max(16, 2 + max(map(len, weights.REGISTRY)))  # the longest name, selfie_segmentation, fits
        print(f"{'name':<{column}}{'architecture':<15}{'size':>8}  found at")
        for name, spec in weights.REGISTRY.items():
            size = f"{spec.size / 1e6:.1f} MB" if spec.size else "?"
            print(f"{name:<{column}}{spec.architecture:<15}{size:>8}  {_where(name, spec)}")
            print(f"{'':<{column}}{spec.note}; licence: {spec.licence}")
        return 0
    if not args.name:
        raise UserError(f"`stylize weights {args.action}` needs a NAME; see `stylize weights list`")
    spec = weights.spec_for(args.name)
    path = weights.resolve(args.name, download=args.action == "fetch")
    if not weights.matches(path, spec):
        raise UserError(f"{path} has sha256 {weights.known_sha256(path)[:16]}…, expected {spec.sha256[:16]}…; "
                        "it will not be used")
    print(path)
    return 0


def _where(name: str, spec) -> str:
    """Where `name` was found, checked against its sha256, or why it is not usable."""
    found = weights.find(name)
    if not found:
        return "missing, downloadable" if spec.url else "missing"
    if not weights.matches(found, spec):
        return f"{found} is NOT the registered file (sha256 differs); it will not be used"
    return str(found)
