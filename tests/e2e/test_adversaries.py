"""Containers built to mislead the verifier: names that pose as other containers, a main
process that hides its mounts with chroot, links out of its root, floods, hostile names and
hangs beside a container that must still fail, a crowd of processes — and a verifier run
from the wrong vantage. Those `docker run` can start are defined once for every host
(adversaries.py, matrix.py): the lab VM runs them too, with the same expectations."""

import secrets
import subprocess
from pathlib import Path

import pytest
from adversaries import (
    ADVERSARIES,
    UNRULY,
    assert_a_crowd_is_an_error_never_a_pass,
    assert_a_held_host_directory_is_seen,
    assert_judged_by_its_least_isolated_process,
    assert_no_chroot_hides_a_mount,
    assert_no_container_silences_another,
    assert_no_link_is_followed,
    ready_script,
)
from matrix import canaries, docker_run, this_host

from conftest import SESSION_LABEL
from isoverify.plugin import EXIT_UNOBSERVABLE

# The matrix's adversaries too (their place's shared mount is never made: none of them needs it)
ITEMS = {**canaries(this_host(Path("/tmp/isoverify-shared-unused"))), **ADVERSARIES}


@pytest.fixture
def adversary():
    """Start adversaries by name, as defined for every host (adversaries.py, matrix.py);
    yield each one's target URL; all removed after the test."""
    started = []

    def start(name: str) -> str:
        started.append(f"isoverify-selftest-{secrets.token_hex(4)}")
        subprocess.run(docker_run(started[-1], ITEMS[name], (SESSION_LABEL,)), check=True, capture_output=True)
        return f"docker://{started[-1]}"

    yield start
    if started:
        subprocess.run(["docker", "rm", "-f", *started], capture_output=True)


def settle(targets) -> None:
    """Wait for each of these containers to have done what it does before it is judged."""
    names = [target.removeprefix("docker://") for target in targets]
    done = subprocess.run(["sh", "-c", ready_script(names, 120)], capture_output=True, text=True, timeout=600)
    assert "unready" not in done.stdout, done.stdout


def test_a_name_that_is_the_start_of_another_id_is_judged_as_the_engine_resolves_it(canary, suite):
    """`docker://bc` names the container called bc, as `docker inspect bc` does — even where
    bc is also the start of another listed container's ID — and each is judged on its own."""
    isolated = canary()
    weakened = canary(name=isolated.id[:2], pid_mode="host")
    run = suite(f"--iso-container=docker://{isolated.name}", f"--iso-container=docker://{weakened.name}")
    assert run.exit_code == 1, run.output
    assert run.failed(f"docker://{isolated.name}") == set()
    assert "pid" in run.failed(f"docker://{weakened.name}")
    pid = next(r for r in run.results if r["target"] == f"docker://{weakened.name}" and r["property"] == "pid")
    declared = next(e["text"] for e in pid["evidence"]["container"] if e["label"].startswith("declared"))
    assert f"Id: {weakened.id}" in declared  # the report names the container judged, whole


def test_a_name_of_sixty_four_hex_digits_is_the_container_so_named(canary, suite):
    """A name that looks like a whole ID, where no container has that ID, is resolved by name
    as the engine resolves it (the probe asks for a listing when inspect answers with another ID)."""
    name = secrets.token_hex(32)
    canary(name=name, pid_mode="host")
    run = suite(f"--iso-container=docker://{name}", "-k", "pid and not limit")
    assert run.exit_code == 1, run.output
    assert run.failed(f"docker://{name}") == {"pid"}


def test_an_ambiguous_id_prefix_is_an_error_naming_the_candidates(docker_client, canary, suite):
    names = {name for c in docker_client.containers.list(all=True) for name in (c.name,)}
    seen: dict[str, str] = {}
    while True:  # sixteen first digits: a shared one comes within seventeen containers
        container = canary()
        first = container.id[0]
        if first in seen and first not in names:
            break
        seen.setdefault(first, container.id)
    run = suite(f"--iso-container=docker://{first}", "-k", "pid and not limit")
    assert run.exit_code == EXIT_UNOBSERVABLE, run.output
    [record] = run.results
    assert record["verdict"] == "error" and "ambiguous" in record["summary"]
    assert seen[first][:12] in record["summary"] and container.id[:12] in record["summary"]


def test_a_main_process_that_chroots_hides_no_mount(adversary, suite):
    """Its chroot hides the host's / and the engine's socket from its own mountinfo; the
    host reads the whole mount namespace from its root, and they fail."""
    target = adversary("a main process that chroots")
    assert_no_chroot_hides_a_mount(suite(f"--iso-container={target}"), target)


def test_a_process_beside_the_main_one_is_judged_too(adversary, suite):
    """Its main process leaves the host's network namespace after forking another that
    stays there: the container is as isolated as its least isolated process."""
    target = adversary("a process left in the host's network")
    assert_judged_by_its_least_isolated_process(suite(f"--iso-container={target}", "-k", "net and not limit"), target)


def test_a_chroot_into_a_bind_of_its_own_root_hides_nothing(adversary, suite):
    """A bind of its own / has the device and inode of its root filesystem: only the root
    of its mount namespace shows the host's / mounted at /host."""
    target = adversary("chroot into a bind of its own /")
    run = suite(f"--iso-container={target}", "-k", "host-mounts")
    assert run.verdicts(target)["host-mounts"] == "fail", run.output


@pytest.mark.parametrize("name", ["host / held after unmounting it", "a host / held as its working directory"],
                         ids=["descriptor", "working directory"])
def test_a_host_directory_held_after_unmounting_it_is_seen(adversary, suite, name):
    """`-v /:/host`, then a descriptor (or its working directory) kept on it and the mount
    lazily unmounted: no mount of its namespace shows the host's / any more, but it holds it."""
    target = adversary(name)
    assert_a_held_host_directory_is_seen(suite(f"--iso-container={target}", "-k", "host-mounts"), target)


def test_links_out_of_its_root_are_never_followed(adversary, suite):
    """Absolute links in its /dev and /etc point at the host's disk, root and files: the
    host lists them as links, reads nothing through them, and no verdict changes."""
    plain, linked = adversary("default"), adversary("links out of its root")
    assert_no_link_is_followed(suite(f"--iso-container={plain}", f"--iso-container={linked}"), linked, plain)


@pytest.fixture
def unruly(adversary):
    """Containers that flood, name devices with newlines and markup, and hang, beside one
    that shares the host's PID namespace; all removed after the test."""
    started = {name: adversary(name) for name in (*UNRULY, "pid=host")}
    settle(started[name] for name in UNRULY)
    return started


@pytest.mark.parametrize("inside", ["host", "exec"])
def test_no_container_silences_another(unruly, suite, inside):
    run = suite(*(f"--iso-container={target}" for target in unruly.values()), f"--iso-inside={inside}",
                "--iso-timeout=20", timeout=600)
    assert run.exit_code == 1, run.output
    assert_no_container_silences_another(run, unruly, unruly["pid=host"], inside)


@pytest.mark.parametrize("wrapper", [("unshare", "--net", "--uts", "--ipc"),
                                     ("unshare", "--pid", "--fork", "--mount-proc")],
                         ids=["own net, uts and ipc", "own pid namespace"])
def test_a_probe_outside_the_hosts_namespaces_judges_nothing(canary, suite, wrapper):
    """Run inside namespaces of its own, the suite would compare containers with those:
    a --net=host container would "pass" `net`. It stops instead, naming the fix."""
    shared = [canary(network_mode="host"), canary(uts_mode="host"), canary(ipc_mode="host"), canary(pid_mode="host")]
    run = suite(*(f"--iso-container=docker://{c.name}" for c in shared), wrapper=wrapper)
    assert run.exit_code == EXIT_UNOBSERVABLE, run.output
    assert not [r for r in run.results if r["verdict"] == "pass"]
    assert "run isoverify on the host itself" in run.output


def test_processes_coming_and_going_on_the_host_change_no_verdict(canary, suite):
    """Processes that exit while the host's process table is read (any busy host) leave
    the others in it: a container's PID 1 is never missing for them."""
    canary(command=["sh", "-c", "for i in 1 2 3 4; do (while :; do /bin/true; done) & done; wait"])
    steady = canary()
    verdicts = {suite(f"--iso-container=docker://{steady.name}", "-k", "pid and not limit").verdicts()["pid"]
                for _ in range(5)}
    assert verdicts == {"pass"}


def test_more_processes_than_are_examined_is_an_error_never_a_pass(adversary, suite):
    """A process hidden behind hundreds of decoys is not judged by the decoys: past the
    bound of processes examined, every property that reads them all is an error."""
    crowded = adversary("a crowd of processes")
    settle([crowded])
    run = suite(f"--iso-container={crowded}")
    assert run.exit_code == EXIT_UNOBSERVABLE, run.output
    assert_a_crowd_is_an_error_never_a_pass(run, crowded)
