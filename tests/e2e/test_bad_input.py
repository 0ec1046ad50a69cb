"""Bad input: one clear line naming the fix, the documented exit code, nothing left behind."""

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import LABEL_ARG, REPO, ours
from isoverify.judge.catalogue import DEFAULT_PROFILE, judged_in
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


def test_a_missing_container_is_one_line_and_an_error_verdict_of_each_property(suite, docker_client):
    run = suite("--iso-container=docker://isoverify-selftest-nope")
    assert run.exit_code == EXIT_UNOBSERVABLE, run.output
    lines = run.output.splitlines()
    said = [line for line in lines if "isoverify-selftest-nope" in line]
    judged = len(judged_in(DEFAULT_PROFILE))
    assert said == ["isoverify: docker://isoverify-selftest-nope: container isoverify-selftest-nope does not exist on "
                    f"local://: check `docker ps -a` there ({judged} properties not judged)"], run.output
    # pytest's header (7 lines, with the blank after), the progress line, a blank, the JUnit written,
    # the counts, that line, the auditor's page, the developers' log, pytest's last
    assert len(lines) == 16, run.output
    assert "ERROR at setup" not in run.output and "Traceback" not in run.output
    assert [r["verdict"] for r in run.results] == ["error"] * judged  # the reports keep each verdict
    assert not ours(docker_client)


def test_an_unreachable_host_is_one_line_naming_the_fix(tmp_path):
    """Through the `isoverify` command, as people run it: ssh to a closed port of the loopback."""
    done = subprocess.run([sys.executable, "-m", "isoverify.cli", "--iso-host=ssh://root@127.0.0.1:1"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == EXIT_UNOBSERVABLE, output
    lines = output.splitlines()
    said = [line for line in lines if "cannot reach" in line]
    assert len(said) == 1 and said[0].startswith("isoverify: cannot reach ssh://root@127.0.0.1:1: "), output
    assert said[0].endswith("check that the host is up and that its URL's user, port and key reach it")
    assert not [line for line in lines if line.startswith("!") or "_pytest" in line], output
    assert len(lines) == 11, output  # pytest's header (6 lines), the progress line, that line, the last
    assert "Traceback" not in output and "warning" not in output.lower()


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
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "hold", LABEL_ARG, f"--iso-report={tmp_path}/r.html",
                            f"--html={tmp_path}/log.html",
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
