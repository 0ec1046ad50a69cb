"""How fast the suite verifies pod containers, against one call to their CRI runtime.

Run as root with the selftests set up (`ci/setup.sh --selftest`):
    .venv/bin/python bench/pods.py
It starts a private containerd as the selftests do (tests/e2e/cri_rig.py), runs N pods of one
busybox container each, default security (N = 1, 10, 50), as a kubelet would (tests/e2e/kubelet.py),
verifies the full catalogue on them with `pytest` as users run it (`cri://*?socket=PATH`), and
prints, all measured in this one run: the suite's wall time per N, the marginal cost per pod
container, and one bare verbose ContainerStatus call on one of them, paid as a user pays it (a
fresh process making the one call, as `crictl inspect` does) and alone on an open channel. Each
timing of the suite starts after a pause of SETTLE seconds. Nothing it starts outlives it: its
pods, its containerd and their directories, mounts and bridge go at the end, on an error or
Ctrl-C too.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
# The selftests' conftest first: it names the session the runtime is named after, and imports cri_rig last.
import conftest  # noqa: E402

# isort: split
from cri_rig import missing_tools, private_runtime  # noqa: E402

from bench import REPEAT, SETTLE, SUITE_ENV, median_seconds, suite_command  # noqa: E402
from isoverify.collect.cri import CriClient  # noqa: E402
from isoverify.collect.cri import api_pb2 as api  # noqa: E402

SIZES = (1, 10, 50)
CALLS = 10  # the one call's figures are the median of this many
NAMESPACE = "bench"
# One call as `crictl inspect ID` makes it: a process of its own, one channel, one verbose ContainerStatus.
ONE_CALL = """import sys
from isoverify.collect.cri import CriClient
from isoverify.collect.cri import api_pb2 as api
with CriClient(sys.argv[1]) as client:
    client.call("ContainerStatus", api.ContainerStatusRequest(container_id=sys.argv[2], verbose=True))
"""


def pod(number: int) -> dict:
    return {"metadata": {"name": f"bench-{number}", "namespace": NAMESPACE},
            "spec": {"containers": [{"name": "app", "image": conftest.IMAGE, "command": ["sleep", "3600"]}]}}


def verify(directory: Path, socket: str) -> dict:
    seconds, done = median_seconds(suite_command(directory, f"--iso-container=cri://*?socket={socket}"),
                                   settle=SETTLE, cwd=REPO, env=SUITE_ENV)
    report = directory / "r.json"
    results = json.loads(report.read_text())["results"] if report.exists() else []
    outcomes = Counter(result["verdict"] for result in results)
    # Exit 1 is properties that do not hold (a default pod has no seccomp filter); anything else is the suite's.
    if done.returncode not in (0, 1) or not results or outcomes["error"]:
        raise SystemExit(f"the suite failed (exit {done.returncode}):\n{done.stdout[-2000:]}")
    return {"seconds": seconds, "targets": len({r["target"] for r in results}), "results": len(results),
            "outcomes": outcomes}


def one_call_in_process(socket: str, container_id: str) -> float:
    """Median seconds of one verbose ContainerStatus on a channel already open and used."""
    request = api.ContainerStatusRequest(container_id=container_id, verbose=True)
    times = []
    with CriClient(socket) as client:
        client.call("ContainerStatus", request)
        for _ in range(CALLS):
            start = time.perf_counter()
            client.call("ContainerStatus", request)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    if os.geteuid() != 0:
        raise SystemExit("a private containerd needs root: run as root (sudo)")
    missing = missing_tools()
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: run `sudo ci/setup.sh --selftest`")
    rows = []
    with private_runtime() as runtime, tempfile.TemporaryDirectory() as tmp:
        started = []
        for size in SIZES:
            while len(started) < size:
                started.append(runtime.run_pod(pod(len(started))))
            rows.append((size, verify(Path(tmp), runtime.socket)))
        container_id = started[0].container_ids["app"]
        fresh, done = median_seconds([sys.executable, "-c", ONE_CALL, runtime.socket, container_id], repeat=CALLS,
                                     cwd=REPO, env=SUITE_ENV)
        if done.returncode != 0:
            raise SystemExit(f"one ContainerStatus call failed:\n{done.stderr[-2000:]}")
        open_channel = one_call_in_process(runtime.socket, container_id)
        with runtime.client() as client:
            version = client.version()

    print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}; {version.runtime_name} "
          f"{version.runtime_version}; suite timings are medians of {REPEAT}, the call's of {CALLS}\n")
    print(f"one verbose ContainerStatus: {fresh * 1000:.0f} ms by a fresh process (as `crictl inspect`); "
          f"{open_channel * 1000:.1f} ms on an open channel\n")
    print(f"{'N':>3}  {'wall s':>7} {'targets':>7} {'results':>7}  outcomes")
    for size, row in rows:
        outcomes = ", ".join(f"{count} {outcome}" for outcome, count in sorted(row["outcomes"].items()))
        print(f"{size:>3}  {row['seconds']:>7.2f} {row['targets']:>7} {row['results']:>7}  {outcomes}")
    (first, one), (last, many) = rows[0], rows[-1]
    marginal = (many["seconds"] - one["seconds"]) / (last - first)
    print(f"\nmarginal cost per pod container (N {first} -> {last}): {marginal * 1000:.1f} ms = "
          f"{marginal / fresh:.2f}x one ContainerStatus by a fresh process (goal: < 0.5x); "
          f"{marginal / open_channel:.0f}x one on an open channel")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        raise SystemExit("interrupted: its pods and its containerd are removed") from None
