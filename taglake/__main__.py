"""`python -m taglake` is the `taglake` command."""

import sys

from taglake.cli import main

sys.exit(main())
