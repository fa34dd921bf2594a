#!/usr/bin/env bash
# The GPU check: everything GPU-side in one run of at most 5 minutes on an H200.
#
#   bash bench/gpu_check.sh OUTDIR            # on the GPU machine, from the repository root
#   bash bench/gpu_check.sh --dry-run OUTDIR  # the same steps on the CPU at tiny sizes (CI runs this)
#
# 1. makes the project importable without its dependencies (pip install --no-deps
#    --no-build-isolation -e ., else a path setup), unless it already imports from this tree;
# 2. checks that every GPU-path module imports without PyAV and python-osc (the GPU machine has neither);
# 3. runs the gpu-marked tests (pytest -m gpu; on the CPU they skip);
# 4. runs the GPU rows of the benchmark suite (torch on CUDA: every net at 480p, 720p, 1080p, 2160p,
#    next to the naive baseline) and writes OUTDIR/suite.json, OUTDIR/suite.png and OUTDIR/check.log.
# Weights: STYLIZE_WEIGHTS, else .gpu-carry/weights when staged (bench/gpu_train.sh --stage); the suite
# times nets without weights with random ones (the cost is the same) and says so.
set -uo pipefail

dry=0
if [ "${1:-}" = "--dry-run" ]; then dry=1; shift; fi
if [ $# -ne 1 ]; then
    echo "usage: bash bench/gpu_check.sh [--dry-run] OUTDIR" >&2
    exit 2
fi
out=$1
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)
log=$out/check.log
: >"$log"
# 1. the project importable from this tree, the weights, the shared helpers
source "$(dirname "$0")/gpu_env.sh"
failed=0

# 2. the GPU path imports without av and pythonosc
step "checking imports without av and pythonosc" "$py" -m stylize.bench.gpu_imports || failed=1

# 3. the gpu-marked tests (only the files that hold some: the others may need PyAV to be collected)
mapfile -t gpu_tests < <(grep -rl --include='test_*.py' -e 'mark.gpu' tests | sort)
step "pytest -m gpu ${gpu_tests[*]}" "$py" -m pytest -m gpu -q -p no:cacheprovider "${gpu_tests[@]}" || failed=1

# 4. the suite's GPU rows
if [ $dry = 1 ]; then
    rows=(--device cpu --backends torch-staged --resolutions 40x32 --nets student,adain --seconds 0.05 --warmup 1
          --min-frames 2 --style-size 32 --threads 1)
else
    rows=(--device cuda --backends torch --resolutions 480p,720p,1080p,2160p --nets adain,student,aesfa --seconds 2)
fi
step "bench suite ${rows[*]}" "$py" -m stylize bench suite "${rows[@]}" -o "$out" --name suite || failed=1

say "$([ $failed = 0 ] && echo passed || echo FAILED); results in $out"
exit $failed
