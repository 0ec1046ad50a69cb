"""The hooks isoverify adds to pytest: implement them in a conftest.py or a plugin."""

import pytest

from isoverify.collect.facts import Fact


@pytest.hookspec
def pytest_isoverify_container_facts(config: pytest.Config) -> dict[str, Fact]:
    """Facts of your own to read about every container, in the suite's one probe per host.

    Return a dict of names to `isoverify.Fact`: each one's command runs on the host (as
    the prober: root there) in a shell of the host's started for that container, with
    `$pid` its main process as the host numbers it, `$root_pid` a process of the host's at
    the root of its mount namespace and `$members` its other processes; its output goes to
    the fact's `parse`. That shell is the host's view: a command reaches the container
    through those processes — the kernel's files under /proc/$pid, its own files with
    `container_file "$root_pid" PATH` — or is declared `Fact(..., reads_host=True)` and
    shown as the host's answer; one that does neither is a usage error. Never run, load or
    follow anything of the container's (its binaries, libraries or links) there. A check
    reads the value with `iso_container.fact(NAME)`.
    """
