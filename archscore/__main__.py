"""``python -m archscore`` runs the command line."""

import sys

from archscore.cli import main

sys.exit(main())
