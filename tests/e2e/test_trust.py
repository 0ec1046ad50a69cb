"""Verifying a container never lends it the verifier's privileges.

Trap containers replace every binary the suite could reach with a script that records
who runs it and tries to mount the host's root disk and leave a marker there, first
as itself, then through a setuid-root helper. Run through every inside mode on docker,
podman (rootful and rootless) and hand-made pid:// targets: no marker reaches the host,
and every trap that ran had exactly the container's own capabilities, seccomp mode,
no_new_privs, LSM label and cgroup. A control run lends the trap the host's root, as a
verifier entering with nsenter would, and the marker does appear: the trap is armed.
The docker traps are defined once (adversaries.py): the lab VM runs them too.
"""

import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
from adversaries import (
    ADVERSARIES,
    TRAP_CMD,
    TRAP_IMAGE,
    TRAPS,
    assert_confined,
    assert_no_trap_ran_with_more,
    build_trap_tree,
    confinement,
    records,
    root_of,
    tar_of,
)
from matrix import docker_run

from conftest import ROOTLESS_USER, SESSION_LABEL

# the hardened trap's options, for podman too
PODMAN_HARDENED = list(ADVERSARIES["hardened trap"].args)


def host_root() -> tuple[int, int, str]:
    """This machine's root filesystem: its device numbers and type."""
    return root_of(Path("/proc/self/mountinfo").read_text())


@pytest.fixture(scope="module")
def marker():
    """The name of the file a trap leaves on the host's root disk if it ever gets there."""
    name = f"isoverify-escaped-{secrets.token_hex(4)}"
    yield name
    Path("/", name).unlink(missing_ok=True)


@pytest.fixture(scope="module")
def trap_tree(busybox_rootfs, open_tmp, marker) -> Path:
    """The busybox image's files with every applet a trap (adversaries.py)."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is missing: `sudo ci/setup.sh --selftest` installs it", pytrace=False)
    return build_trap_tree(busybox_rootfs, open_tmp / "trap-rootfs", host_root(), marker)


@pytest.fixture(scope="module")
def trap_image(docker_client, trap_tree):
    docker_client.api.import_image_from_data(tar_of(trap_tree), repository=TRAP_IMAGE.split(":")[0], tag="latest",
                                             changes=[TRAP_CMD])
    return TRAP_IMAGE


@pytest.fixture(scope="module")
def podman_trap_image(trap_tree, podman_image):
    subprocess.run(["podman", "import", "--change", TRAP_CMD, "-", TRAP_IMAGE],
                   input=tar_of(trap_tree), check=True, capture_output=True)
    return TRAP_IMAGE


def own_confinement(pid: int) -> dict[str, str]:
    """What the kernel says confines the container's main process, as the trap records it."""
    try:
        label = Path(f"/proc/{pid}/attr/current").read_text()
    except OSError:  # the kernel runs no LSM
        label = ""
    return confinement(*(Path(f"/proc/{pid}/{name}").read_text() for name in ("status", "cgroup", "uid_map")), label)


@pytest.fixture
def docker_traps(docker_client, trap_image):
    """The traps of every host (adversaries.py), started here; removed after the test."""
    names = {name: f"isoverify-selftest-{secrets.token_hex(4)}" for name in TRAPS}
    try:
        for name in TRAPS:
            subprocess.run(docker_run(names[name], ADVERSARIES[name], (SESSION_LABEL,)), check=True,
                           capture_output=True)
        yield [docker_client.containers.get(name) for name in names.values()]
    finally:
        subprocess.run(["docker", "rm", "-f", *names.values()], capture_output=True)


@pytest.fixture
def traps(docker_traps, podman_canary, handmade, podman_trap_image, trap_tree):
    """One trap of each kind: {url: (host PID, function reading its trap log)}."""
    started = {}
    for container in docker_traps:
        started[f"docker://{container.name}"] = (
            container.attrs["State"]["Pid"],
            lambda c=container: c.exec_run(["/bin/busybox", "cat", "/trap.log"]).output.decode())
    for extra in ([], PODMAN_HARDENED):
        name = podman_canary(*extra, image=podman_trap_image)
        pid = int(subprocess.run(["podman", "inspect", "-f", "{{.State.Pid}}", name], capture_output=True,
                                 text=True, check=True).stdout)
        started[f"podman://{name}"] = (pid, lambda n=name: subprocess.run(
            ["podman", "exec", n, "/bin/busybox", "cat", "/trap.log"], capture_output=True, text=True).stdout)
    pid = handmade("--pid", "--mount", "--uts", "--ipc", "--net", rootfs=trap_tree)
    log = Path(f"/proc/{pid}/root/trap.log")
    started[f"pid://{pid}"] = (pid, lambda: log.read_text() if log.exists() else "")
    return started


@pytest.mark.parametrize("inside", ["host", "exec"])
def test_no_trap_runs_with_more_than_its_container_has(traps, suite, marker, inside):
    run = suite(*(f"--iso-container={url}" for url in traps), f"--iso-inside={inside}")
    assert not Path("/", marker).exists(), "a trap mounted the host's disk through the verifier"
    for url, (pid, trap_log) in traps.items():
        through_exec = inside == "exec" and not url.startswith("pid://")
        assert_no_trap_ran_with_more(url, trap_log(), own_confinement(pid), through_exec)
    assert run.exit_code in (0, 1), run.output
    assert not [r for r in run.results if r["verdict"] == "error"], [r["summary"] for r in run.results
                                                                   if r["verdict"] == "error"]


def test_the_trap_is_armed_when_lent_the_hosts_root(handmade, trap_tree, marker):
    """The control: the container's own binary run as host root through nsenter — what a
    verifier that enters a container's namespaces to run its commands does — escapes."""
    pid = handmade("--pid", "--mount", "--uts", "--ipc", "--net", rootfs=trap_tree)
    major, minor, fstype = host_root()
    try:
        done = subprocess.run(["nsenter", "-t", str(pid), "-m", "-p", "/bin/escape", str(major), str(minor), fstype,
                               marker], capture_output=True, text=True, timeout=30)
        assert "escaped" in done.stdout and Path("/", marker).exists(), done.stdout + done.stderr
    finally:
        Path("/", marker).unlink(missing_ok=True)


def test_rootless_podman_trap_has_no_more_than_its_container(rootless, trap_tree, suite, marker):
    name = f"isoverify-selftest-{secrets.token_hex(4)}"
    rootless("podman", "import", "--change", TRAP_CMD, "-", TRAP_IMAGE,
             input=tar_of(trap_tree), check=True)
    try:
        rootless("podman", "run", "-d", f"--name={name}", f"--label={SESSION_LABEL}", "--network=none",
                 TRAP_IMAGE, check=True)
        pid = int(rootless("podman", "inspect", "-f", "{{.State.Pid}}", name, text=True, check=True).stdout)
        own = own_confinement(pid)
        for inside in ("host", "exec"):
            run = suite(f"--iso-host=local://?sudo=true&sudo_user={ROOTLESS_USER}",
                        f"--iso-container=podman://{name}", f"--iso-inside={inside}", "-k", "pid or caps")
            assert run.exit_code == 0, run.output
            ran = records(rootless("podman", "exec", name, "/bin/busybox", "cat", "/trap.log", text=True).stdout)
            assert (ran == []) == (inside == "host"), (inside, ran)
            assert_confined(f"podman://{name} (rootless)", ran, own)
        assert not Path("/", marker).exists()
    finally:
        rootless("podman", "rm", "-f", "-t", "0", name)


def test_checks_of_your_own_run_nothing_beyond_the_containers_confinement(traps, suite, marker, tmp_path):
    """A check's command through iso_container runs the container's trapped /bin/sh: only
    through its engine's exec, with the container's own confinement; a bare process, which
    no engine confines, runs none."""
    check = tmp_path / "test_own_trap.py"
    check.write_text("import pytest\n\n\n@pytest.mark.iso_property('runs-true', 'A command of its own runs')\n"
                     "def test_runs_true(iso_container):\n    assert iso_container.run('true').rc == 0\n")
    run = suite(*(f"--iso-container={url}" for url in traps), str(check))
    assert not Path("/", marker).exists(), "a trap mounted the host's disk through a check"
    for url, (pid, trap_log) in traps.items():
        assert_no_trap_ran_with_more(url, trap_log(), own_confinement(pid), not url.startswith("pid://"))
    verdicts = {r["target"].split(":")[0]: r["verdict"] for r in run.results if r["target"].startswith("pid")}
    assert verdicts == {"pid": "error"}, run.output
