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

