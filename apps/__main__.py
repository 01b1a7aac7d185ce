"""`python -m rnnkit.apps` is the `rnnkit` command."""

import sys

from .cli import main

sys.exit(main())
