"""What LSM labels mean: a task is confined only by a label that refuses something."""

import pytest

from isoverify.kernel import linux


@pytest.mark.parametrize("label, confines", [
    ("docker-default (enforce)", True),
    ("cri-containerd.apparmor.d (enforce)", True),
    ("my-unconfined-looking-name (enforce)", True),  # the mode says, not the name
    ("docker-default (kill)", True),
    ("unconfined", False),
    ("", False),
    ("  unconfined\n", False),
    ("lenient (complain)", False),  # complain only logs what it would refuse
    ("lenient (unconfined)", False),
    ("system_u:system_r:container_t:s0:c1,c2", True),
    ("system_u:system_r:spc_t:s0", False),
    ("unconfined_u:unconfined_r:unconfined_t:s0", False),
])
def test_a_label_confines_only_in_a_mode_that_refuses(label, confines):
    assert linux.label_confines(label) is confines
