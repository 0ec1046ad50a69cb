"""The canary matrix: one real container per weakened (or hardened) configuration.

Each canary is compared with a default container judged in the same run: the
properties that do not hold on the canary must be exactly those of the
default, plus the ones the canary breaks, minus the ones it hardens. So each
assertion is about what the kernel shows on this machine, in both directions.
"""

import socket
import subprocess
from pathlib import Path

import docker
import pytest

from conftest import run_suite, start_canary

# A seccomp profile that allows every call: a filter is on, and refuses nothing.
ALLOW_ALL = Path(__file__).with_name("data") / "seccomp-allow-all.json"
DEVICE = next((d for d in ("/dev/fuse", "/dev/kvm", "/dev/net/tun") if Path(d).exists()), None)
ALL_CAPS = dict(cap_add=["ALL"], cap_drop=["SYS_RESOURCE"])  # see PRIVILEGED_REFUSED

# name: (docker run options: SDK keywords or CLI arguments, properties it breaks, properties it hardens)
CANARIES = {
    "pid=host": (dict(pid_mode="host"), {"pid"}, set()),
    # Docker gives a --net=host container the host's hostname, but in a UTS namespace of
    # its own: it cannot rename the host, and `uts` holds. sysfs belongs to a network
    # namespace: its /sys is the host's sysfs itself.
    "net=host": (dict(network_mode="host"), {"net", "host-mounts"}, set()),
    "uts=host": (dict(uts_mode="host"), {"uts"}, set()),
    "ipc=host": (dict(ipc_mode="host"), {"ipc"}, set()),
    "cgroupns=host": (dict(cgroupns="host"), {"cgroupns"}, set()),
    "cgroupns=private": (dict(cgroupns="private"), set(), {"cgroupns"}),
    # PID 1 chroots into the host's / (bind-mounted with its submounts): the kernel shows
    # the host's root as its /, and under it the host's /proc, /sys, /dev and runtime socket.
    "chroot into host /": (dict(volumes={"/": {"bind": "/host"}}, tty=False,
                                 command=["chroot", "/host", "sleep", "infinity"]),
                           {"root", "rootfs", "host-mounts", "runtime-socket", "masked-paths",
                            "readonly-paths", "devices"}, set()),
    "cap-add SYS_PTRACE": (dict(cap_add=["SYS_PTRACE"]), {"caps"}, set()),
    "all capabilities": (ALL_CAPS, {"caps"}, set()),
    "seccomp=unconfined": (dict(security_opt=["seccomp=unconfined"]), {"seccomp"}, set()),
    "systempaths=unconfined": (["--security-opt=systempaths=unconfined"],
                               {"masked-paths", "readonly-paths"}, set()),
    "no-new-privileges": (dict(security_opt=["no-new-privileges"]), set(), {"nnp"}),
    "read-only root": (dict(read_only=True), set(), {"readonly-rootfs"}),
    "limits": (dict(mem_limit="64m", pids_limit=64, nano_cpus=500_000_000), set(),
               {"memory-limit", "pids-limit", "cpu-limit"}),
    # read-only at /host, but not its submounts: the host's /proc shows at /host/proc, its
    # whole /dev (terminals included) at /host/dev
    "host / mounted": (dict(volumes={"/": {"bind": "/host", "mode": "ro"}}),
                       {"host-mounts", "runtime-socket", "masked-paths", "readonly-paths", "devices"}, set()),
    "docker socket mounted": (dict(volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock"}}),
                              {"runtime-socket"}, set()),
    "device": (dict(devices=[f"{DEVICE}:{DEVICE}"]) if DEVICE else None, {"devices"}, set()),
    "user 1000": (dict(user="1000:1000"), set(), {"nonroot"}),
    # everything hardened at once: no rule of the catalogue over-corrects against it
    "hardened": (dict(user="1000:1000", cap_drop=["ALL"], read_only=True, security_opt=["no-new-privileges"],
                      mem_limit="64m", pids_limit=64, nano_cpus=500_000_000, cgroupns="private"),
                 set(), {"nonroot", "readonly-rootfs", "nnp", "memory-limit", "pids-limit", "cpu-limit", "cgroupns"}),
    "privileged-equivalent": (dict(**ALL_CAPS, security_opt=["seccomp=unconfined"],
                                   device_cgroup_rules=["a *:* rwm"],
                                   volumes={"/dev": {"bind": "/dev"}}),
                              {"privileged", "caps", "seccomp", "devices", "host-mounts"}, set()),
    "--privileged": (dict(privileged=True),
                     {"privileged", "caps", "seccomp", "devices", "masked-paths", "readonly-paths"}, set()),
    "shared propagation": ("shared-mount", {"propagation"}, set()),
    # Reach, not names: what each mounted host path really is.
    "host /proc/sys mounted": (dict(volumes={"/proc/sys": {"bind": "/hostsys"}}),
                               {"host-mounts", "readonly-paths"}, set()),
    "host cgroup tree mounted": (dict(volumes={"/sys/fs/cgroup": {"bind": "/cg"}}), {"host-mounts"}, set()),
    "engine state mounted": (dict(volumes={"/var/lib/docker/containers": {"bind": "/c"}}), {"host-mounts"}, set()),
    # /lib is a link on the host: the mount is /usr/lib, as the kernel resolved it
    "host /lib mounted": (dict(volumes={"/lib": {"bind": "/l"}}), {"host-mounts"}, set()),
    "host data mounted": (dict(volumes={"/srv": {"bind": "/data"}}), set(), set()),
    # the engine's socket under a name of its own, or the directory holding it
    "engine socket renamed": (dict(volumes={"/var/run/docker.sock": {"bind": "/tmp/not-docker.sock"}}),
                              {"runtime-socket"}, set()),
    "host /run mounted": (dict(volumes={"/run": {"bind": "/r", "mode": "ro"}}), {"host-mounts", "runtime-socket"},
                          set()),
    "allow-all seccomp profile": (["--security-opt=seccomp=" + str(ALLOW_ALL)], {"seccomp"}, set()),
    "privileged without the flag": (["--cap-add=ALL", "--cap-drop=SYS_RESOURCE", f"--security-opt=seccomp={ALLOW_ALL}",
                                     "--device-cgroup-rule=a *:* rwm", "--security-opt=systempaths=unconfined"],
                                    {"privileged", "caps", "seccomp", "devices", "masked-paths", "readonly-paths"},
                                    set()),
    # Docker gives its own UTS namespace: the host's name, but it cannot rename the host
    "host's hostname": (dict(hostname=socket.gethostname()), set(), set()),
    # The hostname it declares is not the one it runs with: only the kernel shows it.
    "drift": (dict(cap_add=["SYS_ADMIN"], command=["sh", "-c", "hostname drifted && exec sh"]),
              {"caps", "drift"}, set()),
}
# On some machines runc cannot grant every capability (the host's own bounding set
# lacks one, e.g. CAP_SYS_RESOURCE in some VMs): --privileged and --cap-add=ALL fail.
PRIVILEGED_REFUSED = "unable to apply caps"


@pytest.fixture(scope="module")
def shared_mount(tmp_path_factory):
    """A directory made a shared mount on the host, for the propagation canary."""
    path = tmp_path_factory.mktemp("shared")
    subprocess.run(["mount", "--bind", path, path], check=True)
    subprocess.run(["mount", "--make-shared", path], check=True)
    yield path
    subprocess.run(["umount", path], check=True)


@pytest.fixture(scope="module", params=["host", "exec"], ids=["host view", "exec view"])
def matrix(request, docker_client, tmp_path_factory, shared_mount):
    """Every canary and one default container, judged in one suite run: once with the inside
    view read by the host, once through the engine's exec — the verdicts are the same."""
    started, refused = {}, {}
    options = {"default": {}}
    for name, (opts, _, _) in CANARIES.items():
        if opts == "shared-mount":
            opts = dict(mounts=[docker.types.Mount("/shared", str(shared_mount), type="bind",
                                                   propagation="shared")])
        options[name] = opts
    try:
        for name, opts in options.items():
            if opts is None:
                refused[name] = "this machine has none of /dev/fuse, /dev/kvm, /dev/net/tun"
                continue
            try:
                started[name] = (start_canary(docker_client, *opts) if isinstance(opts, list)
                                 else start_canary(docker_client, **opts))
            except docker.errors.APIError as exc:
                if PRIVILEGED_REFUSED not in str(exc):
                    raise
                refused[name] = f"the engine refuses it on this machine: {PRIVILEGED_REFUSED}"
        args = [f"--iso-container=docker://{c.name}" for c in started.values()]
        run = run_suite(tmp_path_factory.mktemp("matrix"), *args, f"--iso-inside={request.param}", timeout=600)
        yield run, {name: f"docker://{c.name}" for name, c in started.items()}, refused
    finally:
        for container in started.values():
            container.remove(force=True)


@pytest.mark.parametrize("name", CANARIES)
def test_canary_breaks_exactly_what_it_weakens(matrix, name):
    run, targets, refused = matrix
    if name in refused:
        pytest.skip(f"{name}: {refused[name]}")
    _, breaks, hardens = CANARIES[name]
    default = run.broken(targets["default"])
    assert not {v for v in run.verdicts(targets[name]).values() if v == "error"}, run.verdicts(targets[name])
    assert run.broken(targets[name]) == (default | breaks) - hardens, run.verdicts(targets[name])


def test_default_container_holds_every_baseline_property(matrix):
    run, targets, _ = matrix
    assert run.failed(targets["default"]) == set(), run.verdicts(targets["default"])


def test_only_weakened_canaries_fail_the_run(matrix):
    run, _, _ = matrix
    assert run.exit_code == 1


def test_evidence_shows_the_declared_value_beside_the_kernels(matrix):
    run, targets, _ = matrix
    record = next(r for r in run.results
                  if r["target"] == targets["pid=host"] and r["property"] == "pid")
    declared = next(e["text"] for e in record["evidence"]["container"] if e["label"].startswith("declared"))
    assert "HostConfig.PidMode: host" in declared
    assert any("(on the host)" in e["label"] for e in record["evidence"]["container"])


def test_summaries_say_why(matrix):
    """The reason each new rule gives, as a reader sees it."""
    run, targets, _ = matrix
    summary = {(r["target"], r["property"]): r["summary"] for r in run.results}
    assert "the same name as the host's" in summary[targets["host's hostname"], "uts"]
    assert "writable inside: /hostsys (the kernel's /proc/sys)" in summary[targets["host /proc/sys mounted"],
                                                                          "readonly-paths"]
    assert "/usr/lib at /l" in summary[targets["host /lib mounted"], "host-mounts"]
    assert "an advisory" in summary[targets["host data mounted"], "host-mounts"]
    assert "lets every call a default profile refuses through" in summary[targets["allow-all seccomp profile"],
                                                                           "seccomp"]
    assert "privileged-equivalent:" in summary[targets["privileged without the flag"], "privileged"]
    assert "the host's cgroup tree at /" in summary[targets["host cgroup tree mounted"], "host-mounts"]
    assert "an engine's state" in summary[targets["engine state mounted"], "host-mounts"]
    assert "/tmp/not-docker.sock" in summary[targets["engine socket renamed"], "runtime-socket"]
    assert "READ-WRITE: the host's proc" in summary[targets["host /proc/sys mounted"], "host-mounts"]
