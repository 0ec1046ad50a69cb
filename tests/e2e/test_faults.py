"""Faults on real parts: signals at any moment, concurrent runs, a container or the engine
going away mid-run, a hung engine, hanging and flooding commands inside."""

import datetime
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import LABEL_ARG, REPO, ours, run_suite
from isoverify.plugin import EXIT_UNOBSERVABLE

DOCKERD_PID = Path("/run/isoverify-dockerd.pid")
TWO_HOSTS = ("--iso-host=local://", "--iso-host=local://?sudo=false")  # one machine, observed twice


def start_suite(tmp_path: Path, *args: str, hold: Path | None = None) -> subprocess.Popen:
    env = dict(os.environ)
    if hold is not None:
        env["ISOVERIFY_HOLD_FILE"] = str(hold)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests" / "e2e" / "helpers"), env.get("PYTHONPATH", "")])
        args = ("-p", "hold", *args)
    return subprocess.Popen([sys.executable, "-m", "pytest", LABEL_ARG, f"--iso-report={tmp_path}/r.html",
                             f"--html={tmp_path}/log.html",
                             f"--junitxml={tmp_path}/r.xml", f"--iso-json={tmp_path}/r.json", *args],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for(path: Path, run: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert run.poll() is None, run.stdout.read().decode()
        assert time.monotonic() < deadline, "the run never reached the hold"
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_at_any_moment_leaves_no_container(tmp_path, docker_client, sig):
    for delay in (0.15, 0.3, 0.45, 0.6, 0.8, 1.1):
        run = start_suite(tmp_path)
        time.sleep(delay)
        run.send_signal(sig)
        output = run.communicate(timeout=60)[0].decode()
        assert not ours(docker_client), f"left behind after {sig.name} at {delay}s:\n{output}"


def test_two_runs_at_once_touch_only_their_own_containers(tmp_path, canary, docker_client):
    bystander = canary()
    since = datetime.datetime.now(datetime.timezone.utc).isoformat()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    runs = [start_suite(tmp_path / "a"), start_suite(tmp_path / "b")]
    outputs = [run.communicate(timeout=120)[0].decode() for run in runs]
    until = datetime.datetime.now(datetime.timezone.utc).isoformat()
    assert [run.returncode for run in runs] == [0, 0], outputs
    destroyed = subprocess.run(["docker", "events", "--since", since, "--until", until, "--filter", "event=destroy",
                                "--format", "{{.Actor.Attributes.name}}"],
                               capture_output=True, text=True).stdout.split()
    assert len(destroyed) == 2 and len(set(destroyed)) == 2, destroyed  # each run removed its own, once
    assert bystander.name not in destroyed
    bystander.reload()
    assert bystander.status == "running"
    assert [c.name for c in ours(docker_client)] == [bystander.name]


def test_container_killed_mid_run_is_an_error_for_it(tmp_path, canary):
    container = canary()
    hold = tmp_path / "hold"
    run = start_suite(tmp_path, *TWO_HOSTS, f"--iso-container=docker://{container.name}", "-k", "pid and not limit",
                      hold=hold)
    wait_for(hold, run)
    container.kill()
    hold.unlink()
    output = run.communicate(timeout=60)[0].decode()
    assert run.returncode == EXIT_UNOBSERVABLE, output
    verdicts = sorted((r["target"].split()[0], r["verdict"]) for r in run_document(tmp_path)["results"])
    assert verdicts == [("local://", "pass"), ("local://?sudo=false", "error")]
    assert "is not running" in output


def run_document(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "r.json").read_text())


def dockerd_pid() -> int:
    if not DOCKERD_PID.exists():
        pytest.skip("the Docker engine here was not started by ci/setup.sh: not ours to stop")
    return int(DOCKERD_PID.read_text())


def test_engine_gone_mid_run_is_an_error_not_a_hang(tmp_path, canary):
    pid = dockerd_pid()
    container = canary()
    hold = tmp_path / "hold"
    run = start_suite(tmp_path, *TWO_HOSTS, f"--iso-container=docker://{container.name}", "--iso-timeout=10",
                      "-k", "pid and not limit", hold=hold)
    try:
        wait_for(hold, run)
        os.kill(pid, signal.SIGTERM)
        hold.unlink()
        output = run.communicate(timeout=90)[0].decode()
    finally:
        deadline = time.monotonic() + 60
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)  # the old daemon must be gone before the set-up starts a new one
        subprocess.run([str(REPO / "ci" / "setup.sh")], check=True, capture_output=True)
    assert run.returncode == EXIT_UNOBSERVABLE, output
    verdicts = sorted((r["target"].split()[0], r["verdict"]) for r in run_document(tmp_path)["results"])
    assert verdicts == [("local://", "pass"), ("local://?sudo=false", "error")]
    assert "does not answer" in output


def test_hung_engine_hits_the_timeout(tmp_path, canary):
    pid = dockerd_pid()
    container = canary()
    os.kill(pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        run = run_suite(tmp_path, f"--iso-container=docker://{container.name}", "--iso-timeout=3", timeout=120)
        elapsed = time.monotonic() - start
    finally:
        os.kill(pid, signal.SIGCONT)
    assert run.exit_code == EXIT_UNOBSERVABLE, run.output
    assert "did not answer within 3s" in run.output
    assert elapsed < 30


def replace_shell(script: str) -> list[str]:
    """A container whose /bin/sh, once PID 1 runs, is `script` (busybox's shell runs its own
    applets without looking at $PATH: only a new sh changes what the inside probe runs)."""
    body = script.replace("\\", "\\\\").replace('"', '\\"')
    return ["/bin/busybox", "sh", "-c",
            f'rm /bin/sh && printf "#!/bin/busybox sh\\n{body}\\n" > /bin/sh && chmod +x /bin/sh && '
            "exec /bin/busybox sh"]


def test_hanging_command_inside_hits_the_timeout(canary, suite):
    container = canary(command=replace_shell("sleep 600"))
    start = time.monotonic()
    run = suite(f"--iso-container=docker://{container.name}", "--iso-timeout=3", "--iso-inside=exec")
    assert time.monotonic() - start < 30
    assert run.verdicts()["pid"] == "pass"  # the kernel's view stands; the inside view says why it is missing
    record = next(r for r in run.results if r["property"] == "pid")
    [missing] = [e["text"] for e in record["evidence"]["container"] if e["label"] == "(no view)"]
    assert "timed out" in missing or "printed nothing" in missing, missing


def test_flooding_output_is_cut(canary, suite):
    container = canary(command=replace_shell("yes 0123456789 | head -c 3000000"))
    run = suite(f"--iso-container=docker://{container.name}", "--iso-inside=exec")
    assert run.verdicts()["pid"] == "pass"
    record = next(r for r in run.results if r["property"] == "pid")
    [missing] = [e["text"] for e in record["evidence"]["container"] if e["label"] == "(no view)"]
    assert "exceeded" in missing, missing
    assert max(len(e["text"]) for r in run.results for side in r["evidence"].values() for e in side) < 6000


def test_undecodable_output_is_decoded_safely(canary, suite):
    # the host's own `hostname`, entering the container's UTS namespace, prints raw bytes
    container = canary(cap_add=["SYS_ADMIN"], command=["sh", "-c", "hostname \"$(printf 'bad\\377name')\" && exec sh"])
    run = suite(f"--iso-container=docker://{container.name}", "-k", "uts")
    [record] = run.results
    assert record["verdict"] == "pass"
    assert "bad\ufffdname" in record["summary"]


def test_thirty_runs_give_identical_verdicts(canary, suite):
    containers = [canary(), canary(pid_mode="host", cap_add=["SYS_PTRACE"])]
    args = [f"--iso-container=docker://{c.name}" for c in containers]
    seen = set()
    for _ in range(30):
        run = suite(*args)
        seen.add(tuple(sorted((r["target"], r["property"], r["verdict"], r["summary"]) for r in run.results)))
    assert len(seen) == 1
    [verdicts] = seen
    assert {v for _, _, v, _ in verdicts} >= {"pass", "fail", "advisory"}
