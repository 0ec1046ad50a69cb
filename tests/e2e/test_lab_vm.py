"""The lab VM for real: the repo's Vagrantfile brought up on a Debian box built here
(`ci/lab.sh`), offline, under QEMU software emulation, its containers checked from
outside through `vagrant ssh-config`, the main job run inside; destroyed at the end.
The canary matrix and the adversaries (adversaries.py) are the same as on this machine,
and so are the pods' modules, run inside on a private containerd with AppArmor on.

Slow (minutes): the box is built once and cached under /var/cache/isoverify, so a
run costs a boot, the VM's set-up (`ci/setup.sh` from a wheelhouse) and the checks.
"""

import base64
import json
import os
import platform
import secrets
import select
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from adversaries import (
    ADVERSARIES,
    SETTLING,
    TRAP_CMD,
    TRAP_IMAGE,
    TRAPS,
    UNRULY,
    assert_a_crowd_is_an_error_never_a_pass,
    assert_a_held_host_directory_is_seen,
    assert_judged_by_its_least_isolated_process,
    assert_no_chroot_hides_a_mount,
    assert_no_container_silences_another,
    assert_no_link_is_followed,
    assert_no_trap_ran_with_more,
    build_trap_tree,
    confinement,
    ready_script,
    root_of,
    tar_of,
)
from matrix import Place, canaries, parse_started, start_all_script

from conftest import REPO, run_suite

pytestmark = pytest.mark.slow

LAB = REPO / "ci" / "lab.sh"
# Every wait is bounded: the first box build (debootstrap) is the longest.
BOX_TIMEOUT, LIBVIRT_TIMEOUT, UP_TIMEOUT, SSH_TIMEOUT, DESTROY_TIMEOUT = 1200, 300, 900, 600, 180
START_TIMEOUT = 1800  # every canary, one after another: 12 to 20 s each under software emulation
JUDGE_TIMEOUT = 900
PODS_TIMEOUT = 1800  # the pods' modules in the VM: a containerd, images, some thirty pods and their runs
# The pods' modules, run in the VM as on this machine: the truth set of the Pod Security
# Standards, and pods as targets (several containers, a shared PID namespace, an init container).
POD_MODULES = ("e2e/test_pss.py", "e2e/test_cri_targets.py")


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

    def vagrant(self, *args: str, timeout=SSH_TIMEOUT, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["vagrant", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                              input=stdin, env={**os.environ, **self.env})

    def ssh(self, command: str, timeout=SSH_TIMEOUT, stdin: str | None = None) -> subprocess.CompletedProcess:
        return self.vagrant("ssh", "-c", command, timeout=timeout, stdin=stdin)

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


def vm_place(vm: Lab) -> tuple[Place, tuple[int, int, str]]:
    """What the canaries need of the VM, asked of it: its name, a device node, its disk;
    and its root filesystem, where a trap would leave its marker."""
    done = vm.ssh("hostname; awk '$5 == \"/\"' /proc/self/mountinfo; "
                  "if [ -e /sys/fs/cgroup/cgroup.controllers ]; then echo v2; else echo v1; fi; "
                  "nproc; cat /proc/sys/kernel/pid_max; "
                  "ls -d /dev/fuse /dev/kvm /dev/net/tun 2>/dev/null || true")
    assert done.returncode == 0, done.stdout + done.stderr
    hostname, root_mount, cgroup, cpus, pid_max, *devices = (line.strip() for line in done.stdout.splitlines())
    assert cgroup == "v2", "the lab VM is the project's cgroup v2 host"
    root = root_of(root_mount)
    return Place(hostname, "/vagrant", (devices or [None])[0], root[0], "/tmp/isoverify-shared", True, int(cpus),
                 int(pid_max)), root


def start_in(vm: Lab, place: Place, names: dict[str, str], items: dict, before="", stdin=None) -> None:
    """Start these in the VM by one ssh command (after `before`, reading `stdin`), as many at
    a time as it has CPUs: all of them."""
    script = base64.b64encode(start_all_script(place, names, items, (), lanes=place.cpus).encode()).decode()
    done = vm.ssh(f"{before}echo {script} | base64 -d | sh", timeout=START_TIMEOUT, stdin=stdin)
    running, refused = parse_started(done.stdout, items)
    assert done.returncode == 0 and not refused and running == set(items), done.stdout + done.stderr


def test_the_pods_truth_set_holds_in_the_vm(lab_vm):
    """Before the matrix (whose adversaries would crowd it): the pods' modules run in the VM,
    on a private containerd there started as on this machine, each pod judged from the VM's
    kernel. There nothing is skipped: the kernel runs AppArmor, so its control is judged from
    each task's label, and runc grants a privileged pod every capability."""
    started = time.monotonic()
    done = lab_vm.ssh(f"cd /vagrant/tests && ../.venv/bin/python -m pytest -q -rs {' '.join(POD_MODULES)}",
                      timeout=PODS_TIMEOUT)
    output = done.stdout.replace("\r\n", "\n")
    assert done.returncode == 0, tail(output + done.stderr, 60)
    summary = output.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary, tail(output, 20)
    print(f"lab VM: the pods' modules ran in {time.monotonic() - started:.0f} s: {summary}")


# Pods held in the VM and judged from outside, as test_cri_remote.py judges an ssh node's.
REMOTE_NAMESPACE = "remote"
REMOTE_PODS = {
    "plain": "spec: {containers: [{name: app, image: busybox:latest, command: [sleep, '3600']}]}",
    "host-pid": "spec: {hostPID: true, containers: [{name: app, image: busybox:latest, command: [sleep, '3600']}]}",
}


def first_line(process: subprocess.Popen, timeout: float) -> str:
    """The first line `process` prints, within `timeout` seconds."""
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, f"nothing printed within {timeout} s"
    return process.stdout.readline()


def test_pods_in_the_vm_are_judged_from_outside_through_vagrant(lab_vm, tmp_path):
    """cri://* through vagrant://: the VM's runtime socket forwarded over the VM's ssh, each pod
    judged from the VM's kernel. A process in the VM holds the pods (tests/e2e/cri_hold.py) and
    removes them when its stdin ends."""
    hold = (f"cd /vagrant/tests/e2e && ../../.venv/bin/python cri_hold.py {REMOTE_NAMESPACE} "
            + shlex.quote(json.dumps(REMOTE_PODS)))
    holder = subprocess.Popen(["vagrant", "ssh", "-c", hold], cwd=REPO, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, **lab_vm.env})
    said, held, run = "", None, None
    try:
        said = first_line(holder, PODS_TIMEOUT)
        held = json.loads(said) if said.startswith("{") else None
        if held is not None:
            run = run_suite(tmp_path, f"--iso-host=vagrant://default?root={REPO}",
                            f"--iso-container=cri://*?socket={held['socket']}&namespace={REMOTE_NAMESPACE}",
                            env=lab_vm.env, timeout=JUDGE_TIMEOUT)
    finally:
        rest, errors = holder.communicate(timeout=SSH_TIMEOUT)  # its stdin ends: the pods go
    assert held is not None and run is not None, tail(said + rest + errors)
    assert holder.returncode == 0 and rest.strip().endswith("removed"), tail(rest + errors)
    labels = {name: f"cri://{REMOTE_NAMESPACE}/{name}/app (pod {pod['uid']}, {pod['containers']['app'][:12]})"
              for name, pod in held["pods"].items()}
    assert run.exit_code == 1, tail(run.output, 60)
    for name, label in labels.items():
        assert run.verdicts(label) and "error" not in run.verdicts(label).values(), (name, run.verdicts(label))
    assert run.broken(labels["host-pid"]) - run.broken(labels["plain"]) == {"pid"}, run.verdicts(labels["host-pid"])
    [host] = run.document()["hosts"]
    assert host["hostname"] == "isoverify-lab", host


@pytest.fixture(scope="module")
def marker():
    """The name of the file a trap in the VM leaves on its root disk if it ever gets there."""
    return f"isoverify-escaped-{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def vm_matrix(lab_vm, busybox_rootfs, open_tmp, marker, tmp_path_factory):
    """Every adversary (the trap image shipped on the ssh command's stdin), then every
    canary of the matrix, started in the VM by one ssh command each, and judged from
    outside by one suite run; nothing removed: the VM goes with everything in it."""
    place, root = vm_place(lab_vm)
    matrix = {name: item for name, item in canaries(place).items() if item is not None}
    items = {**ADVERSARIES, **matrix}
    names = {name: f"isoverify-lab-{number}" for number, name in enumerate(items)}
    # the traps try the VM's root disk: built here for it, imported there
    traps = tar_of(build_trap_tree(busybox_rootfs, open_tmp / "lab-trap-rootfs", root, marker))
    started = time.monotonic()
    start_in(lab_vm, place, names, ADVERSARIES, stdin=base64.b64encode(traps).decode(),
             before=f"base64 -d | docker import --change {shlex.quote(TRAP_CMD)} - {TRAP_IMAGE} >/dev/null && ")
    print(f"lab VM: the trap image shipped and {len(ADVERSARIES)} adversaries started in "
          f"{time.monotonic() - started:.0f} s")
    started = time.monotonic()
    start_in(lab_vm, place, names, matrix)
    print(f"lab VM: {len(matrix)} canaries started in {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    done = lab_vm.ssh(ready_script([names[name] for name in SETTLING], 600), timeout=START_TIMEOUT)
    assert done.returncode == 0 and "unready" not in done.stdout, done.stdout + done.stderr
    print(f"lab VM: the adversaries had settled {time.monotonic() - started:.0f} s later")
    started = time.monotonic()
    run = run_suite(tmp_path_factory.mktemp("vm-matrix"), f"--iso-host=vagrant://default?root={REPO}",
                    *(f"--iso-container=docker://{names[name]}" for name in items), env=lab_vm.env,
                    timeout=JUDGE_TIMEOUT)
    print(f"lab VM: the matrix and the adversaries judged from outside in {time.monotonic() - started:.0f} s")
    return run, {name: f"docker://{names[name]}" for name in items}, items


def trap_evidence(vm: Lab, targets: dict[str, str], marker: str) -> tuple[dict[str, str], dict[str, dict], bool]:
    """One ssh command: each trap's log, what confines its main process as the VM's kernel
    says, and whether the marker reached the VM's root disk. Its cgroup is read in its own
    cgroup namespace, as the trap reads its own: on cgroup v2 Docker gives each container
    one, where its cgroup is /."""
    nonce = secrets.token_hex(8)
    script = ""
    for trap in TRAPS:
        name = targets[trap].removeprefix("docker://")
        script += (f"pid=$(docker inspect -f '{{{{.State.Pid}}}}' {name})\n"
                   f"echo {nonce} {name} log; docker exec {name} /bin/busybox cat /trap.log\n"
                   f"echo {nonce} {name} status; cat /proc/$pid/status\n"
                   f"echo {nonce} {name} cgroup; nsenter -t $pid -C cat /proc/$pid/cgroup\n"
                   f"echo {nonce} {name} uid_map; cat /proc/$pid/uid_map\n"
                   f"echo {nonce} {name} label; cat /proc/$pid/attr/current\n")
    done = vm.ssh(script + f"echo {nonce} marker; ls /{marker} 2>/dev/null || true")
    assert done.returncode == 0, done.stdout + done.stderr
    sections, current = {}, None
    for line in done.stdout.replace("\r\n", "\n").splitlines(keepends=True):
        if line.startswith(f"{nonce} "):
            current = tuple(line.split()[1:])
            sections[current] = ""
        elif current:
            sections[current] += line
    logs, owns = {}, {}
    for trap in TRAPS:
        name = targets[trap].removeprefix("docker://")
        logs[trap] = sections[name, "log"]
        owns[trap] = confinement(*(sections[name, kind] for kind in ("status", "cgroup", "uid_map", "label")))
    return logs, owns, bool(sections["marker",].strip())


@pytest.fixture(scope="module")
def vm_exec_view(lab_vm, vm_matrix, marker, tmp_path_factory):
    """The unruly adversaries and the traps, and the matrix's pid=host beside them, judged
    once more from outside with their own view through the engine's exec (as on this
    machine); the traps' logs read before (what the host view made them run) and after."""
    _, targets, _ = vm_matrix
    started = time.monotonic()
    host_view_logs, _, _ = trap_evidence(lab_vm, targets, marker)
    print(f"lab VM: the traps' logs read in {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    run = run_suite(tmp_path_factory.mktemp("vm-exec"), f"--iso-host=vagrant://default?root={REPO}",
                    *(f"--iso-container={targets[name]}" for name in (*UNRULY, *TRAPS, "pid=host")),
                    "--iso-inside=exec", "--iso-timeout=20", env=lab_vm.env, timeout=JUDGE_TIMEOUT)
    print(f"lab VM: the unruly adversaries and the traps judged again, through the engine's exec, in "
          f"{time.monotonic() - started:.0f} s")
    started = time.monotonic()
    evidence = trap_evidence(lab_vm, targets, marker)
    print(f"lab VM: the traps' logs and confinement read in {time.monotonic() - started:.0f} s")
    return run, host_view_logs, evidence


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


def test_a_main_process_that_chroots_in_the_vm_hides_no_mount(vm_matrix):
    run, targets, _ = vm_matrix
    assert_no_chroot_hides_a_mount(run, targets["a main process that chroots"])


def test_a_process_beside_the_main_one_in_the_vm_is_judged_too(vm_matrix):
    run, targets, _ = vm_matrix
    assert_judged_by_its_least_isolated_process(run, targets["a process left in the host's network"])


@pytest.mark.parametrize("name", ["host / held after unmounting it", "a host / held as its working directory"],
                         ids=["descriptor", "working directory"])
def test_a_host_directory_held_in_the_vm_after_unmounting_it_is_seen(vm_matrix, name):
    run, targets, _ = vm_matrix
    assert_a_held_host_directory_is_seen(run, targets[name])


def test_links_out_of_its_root_in_the_vm_are_never_followed(vm_matrix):
    """There /dev/vda is the VM's own disk."""
    run, targets, _ = vm_matrix
    assert_no_link_is_followed(run, targets["links out of its root"], targets["default"])


def test_more_processes_in_the_vm_than_are_examined_is_an_error_never_a_pass(vm_matrix):
    """The run's exit status is the matrix's (1: its canaries fail); the crowd's verdicts are errors."""
    run, targets, _ = vm_matrix
    assert_a_crowd_is_an_error_never_a_pass(run, targets["a crowd of processes"])


@pytest.mark.parametrize("inside", ["host", "exec"])
def test_no_container_in_the_vm_silences_another(vm_matrix, vm_exec_view, inside):
    _, targets, _ = vm_matrix
    run = vm_matrix[0] if inside == "host" else vm_exec_view[0]
    assert run.exit_code == 1, run.output
    assert_no_container_silences_another(run, {name: targets[name] for name in UNRULY}, targets["pid=host"], inside)


@pytest.mark.parametrize("inside", ["host", "exec"])
def test_no_trap_in_the_vm_runs_with_more_than_its_container_has(vm_matrix, vm_exec_view, inside):
    """As on this machine, and with AppArmor: every trap the engine's exec ran had its
    container's docker-default profile."""
    run, targets, _ = vm_matrix
    exec_run, host_view_logs, (logs, owns, escaped) = vm_exec_view
    assert not escaped, "a trap mounted the VM's disk through the verifier"
    through_exec = inside == "exec"
    for trap in TRAPS:
        assert_no_trap_ran_with_more(targets[trap], logs[trap] if through_exec else host_view_logs[trap], owns[trap],
                                     through_exec)
        assert owns[trap]["Label"] == "docker-default (enforce)", owns[trap]
        verdicts = (exec_run if through_exec else run).verdicts(targets[trap])
        assert verdicts and "error" not in verdicts.values(), verdicts


def test_the_trap_in_the_vm_is_armed_when_lent_its_root(lab_vm, vm_matrix, marker):
    """The control: the trap's own binary run as the VM's root through nsenter escapes,
    to the VM's root disk as the traps would."""
    _, targets, _ = vm_matrix
    name, lent = targets["trap"].removeprefix("docker://"), f"/{marker}-lent"
    started = time.monotonic()
    major, minor, fstype = vm_place(lab_vm)[1]
    done = lab_vm.ssh(f"nsenter -t $(docker inspect -f '{{{{.State.Pid}}}}' {name}) -m -p /bin/escape {major} {minor} "
                      f"{fstype} {lent[1:]}; ls {lent} && rm {lent}")
    assert "escaped" in done.stdout and f"{lent}\n" in done.stdout.replace("\r\n", "\n"), done.stdout + done.stderr
    print(f"lab VM: the trap lent its root in {time.monotonic() - started:.0f} s")


def test_main_job_inside_the_vm(lab_vm):
    done = lab_vm.ssh('cd /vagrant && sudo .venv/bin/pytest -q -k "pid and not limit"')
    assert done.returncode == 0, tail(done.stdout + done.stderr)
    assert "1 passed" in done.stdout, tail(done.stdout)
