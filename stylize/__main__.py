from stylize.cli import main

raise SystemExit(main())
