"""The probe's shell programs as a host receives them (shellcheck reads them in CI's lint step)."""

import pytest

from isoverify.collect import observe
from isoverify.collect.targets import ContainerTarget, HostTarget


@pytest.mark.parametrize("inside", ["host", "exec"])
def test_the_probe_is_ascii(inside):
    """testinfra asks a host for its encoding, with a command of its own (one more round
    trip over ssh), before it sends anything that is not ASCII: the probe never makes it ask."""
    host = HostTarget("local://")
    targets = [ContainerTarget(host, "docker", "a", "docker://a"), ContainerTarget(host, "podman", "b", "podman://b"),
               ContainerTarget(host, "pid", "1", "pid://1")]
    text = observe.Script(("docker", "podman"), targets, 60, inside).text()
    assert text.isascii(), sorted({c for c in text if not c.isascii()})
