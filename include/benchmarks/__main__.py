"""``python -m include.benchmarks [--rows N] [--quick] ...``: see :mod:`include.benchmarks.runner`."""

import sys

from include.benchmarks.runner import main

sys.exit(main())
