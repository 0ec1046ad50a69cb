"""How fast the suite verifies containers, against what the engine itself costs.

Run as root with the suite set up (`ci/setup.sh`):
    .venv/bin/python bench/bench.py [--docker-bench=DIR]
It starts N busybox containers (N = 1, 10, 50), verifies the full catalogue on
them with `pytest` as users run it, and prints, all measured in this one run:
the suite's wall time, the round trips it sent to the host, the engine execs it
caused, the marginal cost per container against one bare `docker exec <c> true`,
-n 2 against -n 0 at N = 50, and the default run (start busybox, verify, report,
remove) against a bare `docker run --rm busybox true`. With DIR, a checkout of
docker-bench-security, it also starts twelve canaries of the selftests' matrix and
times the full catalogue on them against docker-bench-security's section 5
(container runtime) on the same containers, the two run in turn. Each timing of the
suite or of docker-bench-security starts after a pause of SETTLE seconds. Nothing it
starts outlives it.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[1]
IMAGE = "busybox:latest"
LABEL = "io.isoverify.suite"
SIZES = (1, 10, 50)
REPEAT = 3  # each timing is the median of this many
# Seconds of pause before each timing of the suite and of docker-bench-security: none starts
# while the machine is still busy with the last (on a virtual machine whose CPU time is
# rationed, whatever follows a long run pays for it).
SETTLE = 3


def median_seconds(command: list[str], repeat: int = REPEAT, settle: float = 0,
                   **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    """The median wall time of `command` over `repeat` runs, each after `settle` seconds of pause."""
    times, done = [], None
    for _ in range(repeat):
        time.sleep(settle)
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, **kwargs)
        times.append(time.perf_counter() - start)
    return statistics.median(times), done


# As users run it: Python keeps its bytecode caches. Where PYTHONDONTWRITEBYTECODE turns them
# off, pytest compiles the plugin's modules again (rewriting their asserts) on every run.
SUITE_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def suite_command(directory: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--iso-json={directory}/r.json",
            f"--iso-report={directory}/r.html", f"--html={directory}/log.html", f"--junitxml={directory}/r.xml", *args]


def engine_execs(since: str, until: str) -> int:
    events = subprocess.run(["docker", "events", "--since", since, "--until", until, "--filter",
                             "event=exec_die", "--format", "x"], capture_output=True, text=True, check=True)
    return len(events.stdout.split())


def verify(directory: Path, label: str, *args: str) -> dict:
    since = datetime.now(timezone.utc).isoformat()
    seconds, done = median_seconds(suite_command(directory, f"--iso-container=docker://*?label={label}", *args),
                                   settle=SETTLE, cwd=REPO, env=SUITE_ENV)
    time.sleep(1)  # the engine reports events a moment after they happen
    until = datetime.now(timezone.utc).isoformat()
    document = json.loads((directory / "r.json").read_text())
    targets = {r["target"] for r in document["results"]}
    if done.returncode != 0 or not targets:
        raise SystemExit(f"the suite failed (exit {done.returncode}):\n{done.stdout[-2000:]}")
    return {"seconds": seconds, "targets": len(targets), "results": len(document["results"]),
            "round_trips": document["hosts"][0]["round_trips"], "execs": engine_execs(since, until) / REPEAT}


# Twelve canaries of the selftests' matrix (tests/e2e/matrix.py): the default and eleven
# weakened or hardened ones, each judged by both tools.
CANARY_SET = ("default", "pid=host", "net=host", "ipc=host", "cap-add SYS_PTRACE", "seccomp=unconfined",
              "systempaths=unconfined", "read-only root", "limits", "host / mounted", "docker socket mounted",
              "user 1000")


def start_canaries(label: str, directory: Path) -> list[str]:
    """The canary set, labelled `label`; returns their names."""
    sys.path.insert(0, str(REPO / "tests" / "e2e"))
    import matrix  # noqa: PLC0415 - the selftests' one definition of the canaries

    place = matrix.this_host(directory / "shared")
    items = matrix.canaries(place)
    names = []
    for number, name in enumerate(CANARY_SET):
        names.append(f"isoverify-bench-{os.getpid()}-{number}")
        subprocess.run(matrix.docker_run(names[-1], items[name], (label,)), check=True, capture_output=True)
    return names


def versus_docker_bench(docker_bench: Path, label: str, directory: Path) -> tuple[float, float]:
    """Median seconds of the full catalogue and of docker-bench-security's section 5 on the
    containers labelled `label`, each timing taken in turn with the other's."""
    ours, theirs = [], []
    work = directory / "docker-bench"
    shutil.copytree(docker_bench, work)
    for _ in range(REPEAT):
        ours.append(median_seconds(suite_command(directory, f"--iso-container=docker://*?label={label}"),
                                   repeat=1, settle=SETTLE, cwd=REPO, env=SUITE_ENV)[0])
        seconds, done = median_seconds(["bash", "docker-bench-security.sh", "-c", "container_runtime", "-t", label,
                                        "-l", str(directory / "docker-bench.log")],
                                       repeat=1, settle=SETTLE, cwd=work)
        if done.returncode != 0:
            raise SystemExit(f"docker-bench-security failed (exit {done.returncode}):\n{done.stdout[-2000:]}")
        theirs.append(seconds)
    return statistics.median(ours), statistics.median(theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docker-bench", type=Path, metavar="DIR",
                        help="a checkout of docker-bench-security, to time its section 5 beside the catalogue")
    options = parser.parse_args()
    client = docker.from_env()
    run_label = f"isoverify.bench={os.getpid()}"
    key, value = run_label.split("=")
    started = []
    rows = []
    try:
        probe = client.containers.run(IMAGE, detach=True, tty=True, stdin_open=True,
                                      labels={LABEL: "bench", "isoverify.bench.probe": "1"})
        started.append(probe)
        bare_exec, _ = median_seconds(["docker", "exec", probe.id, "true"], repeat=10)
        bare_run, _ = median_seconds(["docker", "run", "--rm", "--label", f"{LABEL}=bench", IMAGE, "true"])
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            for size in SIZES:
                while len(started) - 1 < size:
                    started.append(client.containers.run(IMAGE, detach=True, tty=True, stdin_open=True,
                                                         labels={LABEL: "bench", key: value}))
                rows.append((size, "-n 0, host view", verify(directory, run_label)))
            rows.append((SIZES[-1], "-n 0, docker exec", verify(directory, run_label, "--iso-inside=exec")))
            rows.append((SIZES[-1], "-n 2, host view", verify(directory, run_label, "-n", "2")))
            default, done = median_seconds(suite_command(directory), settle=SETTLE, cwd=REPO, env=SUITE_ENV)
            for container in started:
                container.remove(force=True)
            started = []
            if options.docker_bench:
                canary_label = f"isoverify.bench.canaries={os.getpid()}"
                canaries = start_canaries(canary_label, directory)
                started = [client.containers.get(name) for name in canaries]
                ours, theirs = versus_docker_bench(options.docker_bench, canary_label, directory)
    finally:
        for container in started:
            container.remove(force=True)

    print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}; "
          f"docker {client.version()['Version']}; timings are medians of {REPEAT}\n")
    print(f"bare `docker exec <c> true`: {bare_exec * 1000:.0f} ms;  "
          f"bare `docker run --rm busybox true`: {bare_run * 1000:.0f} ms\n")
    print(f"{'N':>3}  {'mode':<18} {'wall s':>7} {'targets':>7} {'results':>7} {'round trips':>11} {'execs/run':>9}")
    for size, mode, row in rows:
        print(f"{size:>3}  {mode:<18} {row['seconds']:>7.2f} {row['targets']:>7} {row['results']:>7} "
              f"{row['round_trips']:>11} {row['execs']:>9.0f}")
    one = next(r for s, m, r in rows if s == SIZES[0])
    many = next(r for s, m, r in rows if s == SIZES[-1] and m == "-n 0, host view")
    by_exec = next(r for s, m, r in rows if m == "-n 0, docker exec")
    marginal = (many["seconds"] - one["seconds"]) / (SIZES[-1] - SIZES[0])
    marginal_exec = (by_exec["seconds"] - one["seconds"]) / (SIZES[-1] - SIZES[0])
    parallel = next(r for s, m, r in rows if m == "-n 2, host view")
    print(f"\nmarginal cost per container (N {SIZES[0]} -> {SIZES[-1]}): {marginal * 1000:.1f} ms = "
          f"{marginal / bare_exec:.2f}x one bare docker exec (goal <= 0.50x); "
          f"through docker exec instead: {marginal_exec * 1000:.1f} ms = {marginal_exec / bare_exec:.2f}x")
    print(f"round trips per host: {sorted({r['round_trips'] for _, _, r in rows})} whatever N "
          f"(one probe per host)")
    print(f"N = {SIZES[-1]} verified in {many['seconds']:.2f} s (goal < 5 s); "
          f"-n 2: {parallel['seconds']:.2f} s = {parallel['seconds'] / many['seconds']:.2f}x of -n 0 "
          f"(one host is one xdist group: workers only add their start-up)")
    print(f"default run (start busybox, verify, report, remove): {default:.2f} s = "
          f"{default / bare_run:.1f}x a bare `docker run --rm busybox true` ({done.returncode=})")
    if options.docker_bench:
        print(f"{len(CANARY_SET)} canaries: the full catalogue {ours:.2f} s, docker-bench-security section 5 "
              f"{theirs:.2f} s: {theirs / ours:.1f}x faster (goal >= 10x)")
    else:
        print("docker-bench-security: not measured (--docker-bench=DIR, a checkout of it)")


if __name__ == "__main__":
    main()
