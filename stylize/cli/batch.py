"""`stylize batch`: many pictures and videos, folders mirrored, on Ray or one after the other here."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from stylize.cli import sentence
from stylize.cli._looks import add_look_options, build_looks, check_common
from stylize.cli._scale import add_scale_options, run_files
from stylize.errors import InputError, OptionError, OutputError
from stylize.imageio import IMAGE_SUFFIXES
from stylize.jobs import VIDEO_SUFFIXES

HELP = "stylize many pictures and videos: folders mirrored, a manifest written, on Ray or here"
MANIFEST = "manifest.jsonl"
SOME_FAILED = 1  # the exit code when one or more inputs failed (the others finished)
EXAMPLES = f"""examples:
  # a folder of clips and photos, one after the other on this machine
  stylize batch shots/ -o styled/ --method candy --size 720

  # the same on every core of this machine, long videos cut into segments
  stylize batch shots/ extra.mp4 -o styled/ --look starry-night --ray

  # on a running Ray cluster (every node sees the files at the same paths)
  stylize batch /data/clips -o /data/styled --method mosaic --ray auto

A folder's subfolders are mirrored under OUTDIR; a file given by name goes to
OUTDIR itself. Outputs that exist are skipped (nothing is overwritten), so running
the same command again resumes; a video cut short keeps its finished segments.
Every file gets a line in OUTDIR/{MANIFEST} (input, output, status, frames).
Exit code: 0 when every file is done or skipped, {SOME_FAILED} when some failed (the rest
still finished; the manifest says which and why), 2 for a usage error.
"""


def add_parser(verbs, parents) -> None:
    p = verbs.add_parser("batch", parents=parents, help=HELP, description=sentence(HELP),
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="pictures, videos, or folders of them")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="the folder the results go to")
    add_look_options(p, several=False)
    add_scale_options(p)
    p.set_defaults(run=run)


def plan_outputs(inputs: list[str], outdir: Path) -> list[tuple[str, str]]:
    """(source, target) for every picture and video: a folder's tree mirrored under `outdir`."""
    pairs, claimed = [], {}
    for item in inputs:
        root = Path(item)
        if root.is_dir():
            found = [(path, outdir / path.relative_to(root)) for path in sorted(root.rglob("*"))
                     if path.is_file() and _wanted(path) and not _inside(path, outdir)]
        elif root.is_file():
            if not _wanted(root):
                raise InputError(f"{item}: not a picture or video ({', '.join(_suffixes())})")
            found = [(root, outdir / root.name)]
        else:
            raise InputError(f"{item}: no such file or folder")
        for source, target in found:
            key = target.resolve()
            if key in claimed:
                raise OptionError(f"{claimed[key]} and {source} would both be written to {target}; "
                                  f"give them separate runs or output folders")
            claimed[key] = source
            pairs.append((str(source), str(target)))
    return pairs


def _suffixes() -> list[str]:
    return sorted({*IMAGE_SUFFIXES, *VIDEO_SUFFIXES})


def _wanted(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES or path.suffix.lower() in VIDEO_SUFFIXES


def _inside(path: Path, folder: Path) -> bool:
    return folder.resolve() in path.resolve().parents


def run(args) -> int:
    check_common(args)
    look = build_looks(args, several=False)[0]
    outdir = Path(args.output)
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: exists and is not a folder")
    pairs = plan_outputs(args.inputs, outdir)
    if not pairs:
        raise InputError(f"no pictures or videos in {', '.join(args.inputs)} ({', '.join(_suffixes())})")
    for _, target in pairs:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    with open(outdir / MANIFEST, "a", encoding="utf-8") as manifest:
        def write(outcome) -> None:
            manifest.write(json.dumps(outcome.row()) + "\n")
            manifest.flush()
            os.fsync(manifest.fileno())
        outcomes = run_files(args, look, pairs, on_outcome=write)
    return _summary(outcomes, outdir / MANIFEST)


def _summary(outcomes, manifest: Path) -> int:
    counts = {status: sum(o.status == status for o in outcomes) for status in ("done", "skipped", "failed")}
    for outcome in outcomes:
        if outcome.status == "failed":
            why = outcome.message.splitlines()[0] if outcome.message else "failed"
            named = why if why.startswith(outcome.source) else f"{outcome.source}: {why}"
            print(f"stylize batch: failed: {named}", file=sys.stderr)
    print(f"stylize batch: {counts['done']} done, {counts['skipped']} skipped (output exists), "
          f"{counts['failed']} failed; see {manifest}", file=sys.stderr)
    return SOME_FAILED if counts["failed"] else 0
