"""The probe's shell functions (POSIX sh) and the set-up scripts, read by shellcheck."""

import shutil
import subprocess
from pathlib import Path

import pytest

SHELL = Path(__file__).resolve().parents[1] / "isoverify" / "shell"


def test_shellcheck_finds_nothing():
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is missing: `sudo ci/setup.sh --selftest` installs it", pytrace=False)
    probe = subprocess.run(["shellcheck", "--shell=sh", *map(str, sorted(SHELL.glob("*.sh")))],
                           capture_output=True, text=True)
    assert probe.returncode == 0, probe.stdout
    ci = SHELL.parents[1] / "ci"
    setup = subprocess.run(["shellcheck", *map(str, sorted(ci.glob("*.sh")))], capture_output=True, text=True)
    assert setup.returncode == 0, setup.stdout
