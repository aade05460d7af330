"""`python -m mirastream.cli chat ...`: the same as the `mirastream` command."""

import sys

from . import main

sys.exit(main())
