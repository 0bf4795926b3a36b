"""The reference remote as the bench runs it: ``reference_remote``'s own ``serve`` command, in its own process.

    python -m include.benchmarks.remote serve --source-url URL --config PATH --tokens-file PATH --port N

A thin entry point of its own, so the bench's server is told apart from the
other reference remotes on the machine (``make up``, test runs) by its command line.
"""

import sys

from include.reference_remote.__main__ import main

sys.exit(main())
