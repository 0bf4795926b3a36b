"""``python -m include.migration.views.cli`` with a pause inside the Nth checkpoint write (test-only hook).

``FAULT_PAUSE_AT_CHECKPOINT=N`` makes the Nth ``StateStore.save_checkpoint``
print ``paused at checkpoint N`` and sleep before its UPDATE: the page's rows
are written, its checkpoint is not, and the test kills the process there.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from include.migration.target.state import StateStore
from include.migration.views import cli

PAUSE_AT = int(os.environ["FAULT_PAUSE_AT_CHECKPOINT"])
_save_checkpoint = StateStore.save_checkpoint
_calls = 0


def _paused_save_checkpoint(self: StateStore, *args: Any, **kwargs: Any) -> bool:
    global _calls
    _calls += 1
    if _calls == PAUSE_AT:
        print(f"paused at checkpoint {_calls}", flush=True)
        time.sleep(300)
    return _save_checkpoint(self, *args, **kwargs)


StateStore.save_checkpoint = _paused_save_checkpoint  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(cli.main())
