"""A pytest plugin for selftests: holds a suite run after its first test, or, with
ISOVERIFY_HOLD_AT=collected, once its targets are chosen and before any is read.

The selftests load it into a suite run (`-p hold`) to act at a known moment —
while the managed container exists, between two hosts' observations, or between
choosing a pod and reading it: it writes the file named by ISOVERIFY_HOLD_FILE and
waits until that file is removed (or a signal ends the run).
"""

import os
import time
from pathlib import Path

HELD = []


def pytest_collection_finish(session):
    if os.environ.get("ISOVERIFY_HOLD_AT") == "collected":
        hold("collected")


def pytest_runtest_logfinish(nodeid, location):
    if os.environ.get("ISOVERIFY_HOLD_AT") != "collected":
        hold(nodeid)


def hold(nodeid: str) -> None:
    signal_file = os.environ.get("ISOVERIFY_HOLD_FILE")
    if not signal_file or HELD:
        return
    HELD.append(nodeid)
    Path(signal_file).write_text(nodeid)
    deadline = time.monotonic() + 120
    while Path(signal_file).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
