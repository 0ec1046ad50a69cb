"""isoverify as people install it: the wheel in a fresh virtualenv, run from a directory
outside the checkout, beside a project's own tests."""

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from matrix import canary, docker_run

from conftest import LABEL_ARG, REPO, SESSION_LABEL


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtualenv holding the wheel built from this checkout (not editable)."""
    root = tmp_path_factory.mktemp("installed")
    wheels = root / "wheels"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    [wheel] = wheels.glob("isoverify-*.whl")
    venv.create(root / "venv", with_pip=True)
    done = subprocess.run([str(root / "venv/bin/pip"), "install", "-q", "--disable-pip-version-check",
                           "-r", str(REPO / "requirements.txt"), str(wheel)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "venv"


def run_in(directory: Path, command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=300)


def test_the_catalogue_runs_anywhere(installed, canary, tmp_path):
    isolated, host_pid = canary(), canary(pid_mode="host")
    passing = run_in(tmp_path, [str(installed / "bin/isoverify"), LABEL_ARG, f"--iso-container=docker://{isolated.name}"])
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "warning" not in (passing.stdout + passing.stderr).lower(), passing.stdout  # none on a normal run
    assert (tmp_path / "reports/isolation.html").exists() and (tmp_path / "reports/isolation.json").exists()
    assert 'href="test-log.html"' in (tmp_path / "reports/isolation.html").read_text()  # the developers' log, beside
    said = json.loads((tmp_path / "reports/isolation.json").read_text())["command"]  # as typed, not pytest's
    assert said == f"isoverify {LABEL_ARG} --iso-container=docker://{isolated.name}", said
    failing = run_in(tmp_path, [str(installed / "bin/isoverify"), LABEL_ARG,
                                f"--iso-container=docker://{host_pid.name}", "-k", "pid and not limit"])
    assert failing.returncode == 1, failing.stdout + failing.stderr


def test_a_plain_pytest_of_another_project_runs_just_its_tests(installed, tmp_path):
    (tmp_path / "test_mine.py").write_text("def test_mine():\n    assert 1 + 1 == 2\n")
    done = run_in(tmp_path, [str(installed / "bin/pytest"), "-q", "-p", "no:cacheprovider"])
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr


# each example's property, and the container built to break it
EXAMPLE_BREAKERS = {
    "no-sshd": canary(command=("httpd", "-f", "-p", "22"), tty=False),
    "no-privileged-ports": canary("--publish=127.0.0.1:80:80", command=("httpd", "-f", "-p", "80"), tty=False),
    "shadow-not-world-readable": canary(command=("sh", "-c", "echo root:x: >/etc/shadow; chmod 644 /etc/shadow; "
                                                 "exec sleep 1d"), tty=False),
}


def test_your_own_checks_join_the_catalogue(installed, docker_client, tmp_path):
    """`isoverify examples/` outside the checkout: each example fails on the container built
    to break it, and only there; its rows stand beside the catalogue's in every report."""
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    started = {}
    try:
        for prop, breaker in {**EXAMPLE_BREAKERS, "default": canary()}.items():
            started[prop] = f"isoverify-selftest-{prop}-{SESSION_LABEL[-8:]}"
            subprocess.run(docker_run(started[prop], breaker, (SESSION_LABEL,)), check=True, capture_output=True)
        done = run_in(tmp_path, [str(installed / "bin/isoverify"), LABEL_ARG, "examples",
                                 *(f"--iso-container=docker://{name}" for name in started.values())])
    finally:
        subprocess.run(["docker", "rm", "-f", *started.values()], capture_output=True)
    assert done.returncode == 1, done.stdout + done.stderr
    results = json.loads((tmp_path / "reports/isolation.json").read_text())["results"]
    own = {(r["property"], r["target"]): r for r in results if r["property"] in EXAMPLE_BREAKERS}
    assert len(own) == len(EXAMPLE_BREAKERS) * len(started)
    for (prop, target), record in own.items():
        breaks_it = target == f"docker://{started[prop]}"
        assert record["verdict"] == ("fail" if breaks_it else "pass"), record
        assert record["enforced"] is True
    assert {r["property"] for r in results} >= {"pid", "caps", *EXAMPLE_BREAKERS}
    assert any(e["label"].startswith("$ ") for e in own["no-privileged-ports",
                                                         f"docker://{started['no-privileged-ports']}"]
               ["evidence"]["host"]), "the command it ran on the host is its evidence"
    shadow = own["shadow-not-world-readable", f"docker://{started['shadow-not-world-readable']}"]
    assert any("through the engine's exec" in e["label"] for e in shadow["evidence"]["container"])
    assert own["no-sshd", f"docker://{started['no-sshd']}"]["controls"] == ["CIS Docker Benchmark v1.6.0 5.7"]
    junit = (tmp_path / "reports/isolation.xml").read_text()
    assert 'name="isoverify.property" value="no-sshd"' in junit
    html = (tmp_path / "reports/isolation.html").read_text()
    assert "no-privileged-ports" in html and "shadow-not-world-readable" in html
