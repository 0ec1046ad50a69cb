"""The probe's shell functions (POSIX sh) and the set-up scripts, read by shellcheck."""

import shutil
import subprocess
from pathlib import Path

import pytest

from isoverify import observe
from isoverify.targets import ContainerTarget, HostTarget

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


@pytest.mark.parametrize("inside", ["host", "exec"])
def test_the_probe_is_ascii(inside):
    """testinfra asks a host for its encoding, with a command of its own (one more round
    trip over ssh), before it sends anything that is not ASCII: the probe never makes it ask."""
    host = HostTarget("local://")
    targets = [ContainerTarget(host, "docker", "a", "docker://a"), ContainerTarget(host, "podman", "b", "podman://b"),
               ContainerTarget(host, "pid", "1", "pid://1")]
    text = observe.Script(("docker", "podman"), targets, 60, inside).text()
    assert text.isascii(), sorted({c for c in text if not c.isascii()})
