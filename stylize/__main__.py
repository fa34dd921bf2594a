import sys

try:
    from stylize.cli import main
except KeyboardInterrupt:  # Ctrl-C before the command line is even read
    print("stylize: interrupted", file=sys.stderr)
    raise SystemExit(130) from None

raise SystemExit(main())
