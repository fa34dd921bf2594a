# Sourced by bench/gpu_check.sh and bench/gpu_train.sh: the shell set-up both share.
# Needs $dry (1 on a dry run) and $log (a file the steps append to); sets $repo and $py.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 2
py=${PYTHON:-python3}
command -v "$py" >/dev/null || py=python
export PYTHONUNBUFFERED=1
export STYLIZE_CACHE=${STYLIZE_CACHE:-$(mktemp -d)}
# the staged carry (bench/gpu_train.sh --stage) holds the VGG weights
if [ -z "${STYLIZE_WEIGHTS:-}" ] && [ -d .gpu-carry/weights ]; then export STYLIZE_WEIGHTS=$repo/.gpu-carry/weights; fi

say() { echo "$(basename "$0" .sh): $*" | tee -a "$log"; }
step() { say "$1"; shift; "$@" 2>&1 | tee -a "$log"; return "${PIPESTATUS[0]}"; }

# The project, importable from this tree: installed without its dependencies where it is not yet.
importable() {
    "$py" -c "import stylize.realtime, sys; sys.exit(not stylize.realtime.__file__.startswith('$repo/'))" 2>/dev/null
}
if ! importable; then
    if [ "$dry" = 1 ]; then say "the project does not import from $repo; install it first (pip install -e .)"; exit 2; fi
    if ! step "installing the project without dependencies" \
            "$py" -m pip install -q --no-deps --no-build-isolation -e .; then
        # a path set-up instead: stylize/ with models/, realtime/, ... linked in as its sub-packages
        site=$(mktemp -d)
        mkdir "$site/stylize"
        for entry in stylize/*; do ln -s "$repo/$entry" "$site/stylize/"; done
        for package in models realtime export offline bench; do ln -s "$repo/$package" "$site/stylize/$package"; done
        export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
        "$py" -c "import stylize.realtime.engines" || { say "neither pip nor the path set-up works"; exit 2; }
        say "pip install failed; using a path set-up in $site"
    fi
fi
