#!/usr/bin/env bash
# GPU training: the student, AesFA and the AdaIN-r31 decoder at 256 px, all three within one time budget.
#
#   bash bench/gpu_train.sh --stage [DATA]          # here: stage the training set, VGG and runs/*/checkpoint.pt
#                                                   # into DATA (default .gpu-carry, ignored by git; < 64 MiB with
#                                                   # the tree) from ../shared and runs/
#   bash bench/gpu_train.sh DATA OUTDIR [--seconds 270]   # there: train; OUTDIR gets student.tar, aesfa.tar,
#                                                   # adain.tar (each: NET.pt fp16 + .sha256, checkpoint.pt,
#                                                   # losses.csv, last sample) and gpu_train.json
#   bash bench/gpu_train.sh --dry-run DATA OUTDIR   # the same on the CPU: tiny crops, a few steps; stages a tiny
#                                                   # DATA first when it does not exist (CI runs this)
#
# A run found in DATA/runs/NET/checkpoint.pt is carried on with the options it was trained with.
# Extra options go to `python -m stylize.bench.gpu_train` (see its --help).
set -uo pipefail

dry=0
case "${1:-}" in
    --stage)
        shift
        data=.gpu-carry
        case "${1:-}" in ""|-*) ;; *) data=$1; shift ;; esac
        log=/dev/null
        source "$(dirname "$0")/gpu_env.sh"
        "$py" -m stylize.bench.gpu_train "$data" --stage --shared ../shared --runs runs "$@" || exit $?
        tree=$(git ls-files -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
        carry=$(du -sb "$data" | cut -f1)
        echo "tree $((tree / 1048576)) MiB + $data $((carry / 1048576)) MiB (the device tool carries 64 MiB in all)"
        exit 0 ;;
    --dry-run) dry=1; shift ;;
esac
if [ $# -lt 2 ]; then
    echo "usage: bash bench/gpu_train.sh [--stage [DATA] | [--dry-run] DATA OUTDIR [--seconds S]]" >&2
    exit 2
fi
data=$1 out=$2
shift 2
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)
case "$data" in /*) ;; *) data=$PWD/$data ;; esac
log=/dev/null
source "$(dirname "$0")/gpu_env.sh"

if [ $dry = 1 ]; then
    if [ ! -d "$data" ]; then
        say "staging a tiny training set into $data"
        "$py" -m stylize.bench.gpu_train "$data" --stage --shared ../shared --runs runs --short-side 64 --limit 4 \
            || exit $?
    fi
    export OMP_NUM_THREADS=1
    set -- --seconds 4 --crop 32 --batch 1 --device cpu --sample-every 2 --margin 0.5 "$@"
else
    set -- --seconds 270 --device cuda "$@"
fi
say "training into $out: $*"
"$py" -m stylize.bench.gpu_train "$data" "$out" "$@"
