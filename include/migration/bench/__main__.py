"""``python -m include.migration.bench [--rows N] [--quick] ...``: see :mod:`include.migration.bench.runner`."""

import sys

from include.migration.bench.runner import main

sys.exit(main())
