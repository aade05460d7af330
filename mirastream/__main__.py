"""`python -m mirastream chat ...`: the same as the `mirastream` command."""

import sys

from .cli import main

sys.exit(main())
