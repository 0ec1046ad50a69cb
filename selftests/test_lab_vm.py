"""The lab VM for real: the repo's Vagrantfile brought up on a Debian box built here
(`ci/lab.sh`), offline, under QEMU software emulation, its containers checked from
outside through `vagrant ssh-config`, the main job run inside; destroyed at the end.

Slow (minutes): the box is built once and cached under /var/cache/isoverify, so a
run costs a boot, the VM's set-up (`ci/setup.sh` from a wheelhouse) and the checks.
"""

import base64
import os
import platform
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, run_suite
from matrix import Place, canaries, parse_started, start_all_script

pytestmark = pytest.mark.slow

LAB = REPO / "ci" / "lab.sh"
# Every wait is bounded: the first box build (debootstrap) is the longest.
BOX_TIMEOUT, LIBVIRT_TIMEOUT, UP_TIMEOUT, SSH_TIMEOUT, DESTROY_TIMEOUT = 1200, 300, 900, 600, 180
START_TIMEOUT = 1800  # every canary, one after another: 12 to 20 s each under software emulation


def lab(step: str, env=None, timeout=LIBVIRT_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(LAB), step], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def lab_env(port: int) -> dict[str, str]:
    """The Vagrantfile's overrides for the cached box, as `ci/lab.sh env` prints them."""
    done = lab("env", {"ISOVERIFY_SSH_PORT": str(port)})
    assert done.returncode == 0, done.stderr
    env = {}
    for word in shlex.split(done.stdout, comments=True):
        key, sep, value = word.partition("=")
        if sep:
            env[key] = value
    return env


class Lab:
    """The running VM: vagrant commands in the repo with the overrides."""

    def __init__(self, env: dict[str, str]):
        self.env = env

    def vagrant(self, *args: str, timeout=SSH_TIMEOUT) -> subprocess.CompletedProcess:
        return subprocess.run(["vagrant", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **self.env})

    def ssh(self, command: str, timeout=SSH_TIMEOUT) -> subprocess.CompletedProcess:
        return self.vagrant("ssh", "-c", command, timeout=timeout)

    def state(self) -> str:
        done = self.vagrant("status", "--machine-readable", timeout=120)
        states = [line.split(",")[3] for line in done.stdout.splitlines() if line.split(",")[2:3] == ["state"]]
        return states[0] if states else f"unknown ({done.stderr.strip()[-200:]})"


def tail(text: str, lines=30) -> str:
    return "\n".join(text.splitlines()[-lines:])


def skip_unless_possible():
    """Skip only when this machine cannot run the lab at all; say what is missing."""
    if platform.machine() != "x86_64":
        pytest.skip(f"the lab box is x86_64 and this machine is {platform.machine()}")
    if os.geteuid() != 0:
        pytest.skip("the lab VM needs root (sudo): ci/lab.sh installs libvirt and starts libvirtd")
    for tool in ("apt-get", "dpkg-query"):
        if shutil.which(tool) is None:
            pytest.skip(f"no {tool}: ci/lab.sh installs what the lab needs on Debian or Ubuntu only")


@pytest.fixture(scope="module")
def lab_vm():
    """The repo's Vagrantfile up on the cached box; destroyed afterwards, also on failure."""
    skip_unless_possible()
    started = time.monotonic()
    done = lab("box", timeout=BOX_TIMEOUT)
    assert done.returncode == 0, f"ci/lab.sh box failed:\n{tail(done.stderr)}"
    box_seconds = time.monotonic() - started
    done = lab("libvirt")
    started_libvirtd = "starting libvirtd" in done.stderr
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("no qemu-system-x86_64 after installing qemu-system-x86: this machine cannot run the lab VM")
    assert done.returncode == 0, f"ci/lab.sh libvirt failed:\n{tail(done.stderr)}"
    done = lab("wheelhouse")
    assert done.returncode == 0, f"ci/lab.sh wheelhouse failed:\n{tail(done.stderr)}"
    vm = Lab(lab_env(free_port()))
    state = vm.state()
    assert state == "not_created", (f"a lab VM already exists in {REPO} ({state}): "
                                    "`sudo ci/lab.sh destroy` first")
    try:
        started = time.monotonic()
        done = vm.vagrant("up", "--provider=libvirt", timeout=UP_TIMEOUT)
        console = Path(vm.env["ISOVERIFY_CONSOLE_LOG"])
        assert done.returncode == 0, (f"vagrant up failed:\n{tail(done.stdout + done.stderr)}\nconsole:\n"
                                      + (tail(console.read_text(errors="replace"), 15) if console.exists() else ""))
        print(f"lab VM: box ready in {box_seconds:.0f} s, up and set up in {time.monotonic() - started:.0f} s")
        yield vm
    finally:
        destroyed = vm.vagrant("destroy", "-f", timeout=DESTROY_TIMEOUT)
        if started_libvirtd:
            lab("stop")  # this test started libvirtd: it stops it too
        assert destroyed.returncode == 0, f"vagrant destroy failed:\n{tail(destroyed.stdout + destroyed.stderr)}"


def vm_place(vm: Lab) -> Place:
    """What the canaries need of the VM, asked of it: its name, a device node, its disk."""
    done = vm.ssh("hostname; awk '$5 == \"/\" { print $3 }' /proc/self/mountinfo; "
                  "if [ -e /sys/fs/cgroup/cgroup.controllers ]; then echo v2; else echo v1; fi; "
                  "nproc; cat /proc/sys/kernel/pid_max; "
                  "ls -d /dev/fuse /dev/kvm /dev/net/tun 2>/dev/null || true")
    assert done.returncode == 0, done.stdout + done.stderr
    hostname, root_device, cgroup, cpus, pid_max, *devices = done.stdout.split()
    assert cgroup == "v2", "the lab VM is the project's cgroup v2 host"
    return Place(hostname, "/vagrant", (devices or [None])[0], int(root_device.split(":")[0]),
                 "/tmp/isoverify-shared", True, int(cpus), int(pid_max))


@pytest.fixture(scope="module")
def vm_matrix(lab_vm, tmp_path_factory):
    """Every canary of the matrix started in the VM by one ssh command, and judged from
    outside by one suite run; removed at the end."""
    place = vm_place(lab_vm)
    items = {name: item for name, item in canaries(place).items() if item is not None}
    names = {name: f"isoverify-lab-{number}" for number, name in enumerate(items)}
    script = base64.b64encode(start_all_script(place, names, items, ()).encode()).decode()
    started = time.monotonic()
    done = lab_vm.ssh(f"echo {script} | base64 -d | sh", timeout=START_TIMEOUT)
    running, refused = parse_started(done.stdout, items)
    try:
        assert done.returncode == 0 and not refused and running == set(items), done.stdout + done.stderr
        print(f"lab VM: {len(running)} canaries started in {time.monotonic() - started:.0f} s")
        started = time.monotonic()
        run = run_suite(tmp_path_factory.mktemp("vm-matrix"), f"--iso-host=vagrant://default?root={REPO}",
                        *(f"--iso-container=docker://{names[name]}" for name in items), env=lab_vm.env,
                        timeout=900)
        print(f"lab VM: the matrix judged from outside in {time.monotonic() - started:.0f} s")
        yield run, {name: f"docker://{names[name]}" for name in items}, items
    finally:
        lab_vm.ssh(f"docker rm -f {' '.join(names.values())}; umount {place.shared}")


@pytest.mark.parametrize("name", canaries(Place("", "", "/dev/fuse", 254, "", True, 2, 4194304)))
def test_every_canary_in_the_vm_breaks_exactly_what_it_weakens(vm_matrix, name):
    """The same expectations as on this machine (see test_catalogue.py), on cgroup v2 and AppArmor."""
    run, targets, items = vm_matrix
    if name not in items:
        pytest.skip(f"{name}: the VM has none of /dev/fuse, /dev/kvm, /dev/net/tun")
    verdicts = run.verdicts(targets[name])
    assert "error" not in verdicts.values(), verdicts
    default = run.broken(targets["default"])
    assert run.broken(targets[name]) == (default | items[name].breaks) - items[name].hardens, verdicts


def test_the_default_container_in_the_vm_holds_every_baseline_property_and_lsm(vm_matrix, lab_vm):
    run, targets, _ = vm_matrix
    assert run.exit_code == 1, run.output
    assert run.failed(targets["default"]) == set(), run.verdicts(targets["default"])
    [host] = run.document()["hosts"]
    assert host["hostname"] == "isoverify-lab" and host["kernel"].endswith("-amd64"), host
    # The box's Debian kernel runs AppArmor, so Docker confines containers with
    # its docker-default profile: the one place the project sees lsm hold.
    modules = lab_vm.ssh("cat /sys/kernel/security/lsm")
    assert "apparmor" in modules.stdout.split(","), modules.stdout + modules.stderr
    assert run.verdicts(targets["default"])["lsm"] == "pass"
    assert run.verdicts(targets["apparmor=unconfined"])["lsm"] == "advisory"
    assert run.verdicts(targets["--privileged"])["lsm"] == "advisory"


def test_the_vm_reads_devices_and_limits_from_cgroup_v2(vm_matrix):
    """Its device rules are eBPF programs, and systemd gives each container scope a tasks limit."""
    run, targets, _ = vm_matrix
    record = {(r["target"], r["property"]): r for r in run.results}
    every = record[targets["device rule for every device"], "devices"]
    assert every["findings"] == ["b *:*", "c *:*"], every
    assert "privileged-equivalent: its device cgroup lets it write the host's block devices" in \
        record[targets["device rule for the host's disk"], "privileged"]["summary"]
    assert "not by the engine (HostConfig.PidsLimit is unset)" in record[targets["default"], "pids-limit"]["summary"]
    assert "the engine's flag (HostConfig.PidsLimit = 64)" in record[targets["limits"], "pids-limit"]["summary"]


def test_main_job_inside_the_vm(lab_vm):
    done = lab_vm.ssh('cd /vagrant && sudo .venv/bin/pytest -q -k "pid and not limit"')
    assert done.returncode == 0, tail(done.stdout + done.stderr)
    assert "1 passed" in done.stdout, tail(done.stdout)
