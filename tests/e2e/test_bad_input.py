"""Bad input: one clear line naming the fix, the documented exit code, nothing left behind."""

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import LABEL_ARG, REPO, ours
from isoverify.plugin import EXIT_UNOBSERVABLE

USAGE_ERROR = 4  # pytest's own


@pytest.mark.parametrize("args, words", [
    (["--iso-container=ftp://web"], "unknown container URL"),
    (["--iso-container=docker://no such;name"], "not a container name or ID"),
    (["--iso-container=pid://self"], "not a process ID"),
    (["--iso-host=telnet://box"], "unknown host URL"),
    (["--iso-label=io.isoverify.suite=x"], "--iso-label"),
    (["--iso-profile=paranoid"], "invalid choice"),
    (["--iso-baseline=/nonexistent/isolation.json"], "--iso-baseline /nonexistent/isolation.json: cannot read"),
    ([f"--iso-baseline={REPO / 'isoverify/report/results.schema.json'}"], "not isoverify's results"),
])
def test_unusable_target_is_a_usage_error(suite, args, words):
    run = suite(*args)
    assert run.exit_code == USAGE_ERROR
    assert words in run.output
    assert "Traceback" not in run.output


def test_engine_down_is_one_line_naming_the_fix(suite, docker_client):
    run = suite(env={"DOCKER_HOST": "unix:///run/isoverify-selftest-no-engine.sock"})
    assert run.exit_code == EXIT_UNOBSERVABLE, run.output
    lines = [line for line in run.output.splitlines() if "does not answer" in line]
    assert len(lines) == 1 and "ci/setup.sh" in lines[0], run.output
    assert "Traceback" not in run.output
    assert not ours(docker_client)


def test_missing_image_says_how_to_build_it_offline(suite, docker_client):
    # a registry on a closed loopback port: the pull fails at once, and nothing leaves the machine
    run = suite("--iso-image=localhost:1/isoverify-selftest-missing:never", timeout=300)
    assert run.exit_code == EXIT_UNOBSERVABLE, run.output
    assert "build busybox offline with `sudo ci/setup.sh`" in run.output
    assert "Traceback" not in run.output
    assert not ours(docker_client)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_removes_its_container(tmp_path, docker_client, sig):
    hold = tmp_path / "holding"
    env = {**os.environ, "ISOVERIFY_HOLD_FILE": str(hold),
           "PYTHONPATH": os.pathsep.join([str(REPO / "tests" / "e2e" / "helpers"), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "hold", LABEL_ARG, f"--html={tmp_path}/r.html",
                            f"--junitxml={tmp_path}/r.xml", f"--iso-json={tmp_path}/r.json"],
                           cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not hold.exists():
        assert run.poll() is None and time.monotonic() < deadline, "the run never reached its first test"
        time.sleep(0.05)
    assert ours(docker_client), "the managed container should exist while the run holds"
    run.send_signal(sig)
    output = run.communicate(timeout=60)[0].decode()
    assert run.returncode != 0, output
    assert not ours(docker_client), output


def test_managed_image_without_a_shell_says_so(suite, docker_client, commandless_image):
    run = suite(f"--iso-image={commandless_image}")
    assert run.exit_code == EXIT_UNOBSERVABLE, run.output
    assert f"image {commandless_image} has no shell" in run.output
    assert "Traceback" not in run.output
    assert not ours(docker_client)
