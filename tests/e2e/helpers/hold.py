"""A pytest plugin for selftests: holds a suite run after its first test.

The selftests load it into a suite run (`-p hold`) to act at a known moment —
while the managed container exists, or between two hosts' observations: it
writes the file named by ISOVERIFY_HOLD_FILE and waits until that file is
removed (or a signal ends the run).
"""

import os
import time
from pathlib import Path

HELD = []


def pytest_runtest_logfinish(nodeid, location):
    signal_file = os.environ.get("ISOVERIFY_HOLD_FILE")
    if not signal_file or HELD:
        return
    HELD.append(nodeid)
    Path(signal_file).write_text(nodeid)
    deadline = time.monotonic() + 120
    while Path(signal_file).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
