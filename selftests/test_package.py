"""isoverify as people install it: the wheel in a fresh virtualenv, run from a directory
outside the checkout, beside a project's own tests."""

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from conftest import LABEL_ARG, REPO


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
    assert (tmp_path / "reports/isolation.html").exists() and (tmp_path / "reports/isolation.json").exists()
    failing = run_in(tmp_path, [str(installed / "bin/isoverify"), LABEL_ARG,
                                f"--iso-container=docker://{host_pid.name}", "-k", "pid and not limit"])
    assert failing.returncode == 1, failing.stdout + failing.stderr


def test_a_plain_pytest_of_another_project_runs_just_its_tests(installed, tmp_path):
    (tmp_path / "test_mine.py").write_text("def test_mine():\n    assert 1 + 1 == 2\n")
    done = run_in(tmp_path, [str(installed / "bin/pytest"), "-q", "-p", "no:cacheprovider"])
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr
