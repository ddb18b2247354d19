"""``python -m archscore`` runs the command line."""

import sys

try:
    from archscore.cli import main
except KeyboardInterrupt:  # Ctrl-C while the package imports: same one line as during a command
    print("archscore: error: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
