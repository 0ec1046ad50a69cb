"""The lab's Vagrantfile is valid as shipped and with its documented overrides."""

import os
import shutil
import subprocess

import pytest

from conftest import REPO


@pytest.fixture
def vagrant():
    found = shutil.which("vagrant")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("vagrant is missing: `sudo ci/setup.sh --selftest` installs it", pytrace=False)
        pytest.skip("vagrant is not installed (`sudo ci/setup.sh --selftest` installs it)")
    return found


@pytest.mark.parametrize("overrides", [{}, {"ISOVERIFY_BOX": "bento/ubuntu-24.04", "ISOVERIFY_MEMORY": "4096"}],
                         ids=["default", "overridden"])
def test_vagrantfile_validates(vagrant, overrides):
    done = subprocess.run([vagrant, "validate", "--ignore-provider"], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, **overrides}, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validated successfully" in done.stdout



def test_vagrantfile_validates_with_the_offline_lab_overrides(vagrant, tmp_path):
    """The overrides `ci/lab.sh env` prints for a machine with no KVM and no network for the VM."""
    key = tmp_path / "id_ed25519"
    key.write_text("")
    overrides = {"ISOVERIFY_BOX": "isoverify/debian-12", "ISOVERIFY_GUEST": "debian",
                 "ISOVERIFY_LIBVIRT_DRIVER": "qemu", "ISOVERIFY_KERNEL": str(tmp_path / "vmlinuz"),
                 "ISOVERIFY_INITRD": str(tmp_path / "initrd.img"), "ISOVERIFY_CMDLINE": "root=/dev/vda rw",
                 "ISOVERIFY_SSH_KEY": str(key), "ISOVERIFY_SSH_PORT": "2222",
                 "ISOVERIFY_CONSOLE_LOG": str(tmp_path / "console.log")}
    done = subprocess.run([vagrant, "validate", "--ignore-provider"], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, **overrides}, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validated successfully" in done.stdout
