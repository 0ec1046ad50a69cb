"""A pytest plugin for selftests: holds a suite run after its first test.

The selftests load it into a suite run (`-p hold`) to interrupt that run at
a known moment: while the managed container exists.
"""

import os
import time
from pathlib import Path


def pytest_runtest_teardown(item):
    signal_file = os.environ.get("ISOVERIFY_HOLD_FILE")
    if signal_file:
        Path(signal_file).write_text(item.nodeid)
        time.sleep(120)
