"""Containers built to slip past the host's reading of them, or to stall it: a filesystem
that never answers, a privileged helper that hops from PID to PID faster than it is read,
a thread that keeps what its confined main thread gave up, a process parked in vfork(), a
paused container, a fork loop, more descriptors than are looked at, a /dev deeper than is
listed, a link whose name is not UTF-8. Each is judged in one run beside a default
container, which must stay judged; what could not be read whole is an error of the
properties that need it, never a pass, and every other property of its container is judged."""

import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from adversaries import record, settled
from matrix import canary, docker_run, root_disk_major
from test_adversaries import settle

from conftest import REPO, SESSION_LABEL, run_suite

FUSE = Path("/dev/fuse")
MANY = 17000  # descriptors: more than the host looks at in one process


@pytest.fixture(scope="module")
def helpers(tmp_path_factory) -> dict[str, Path]:
    """The helpers of tests/e2e/helpers/ the evasive containers run, built static."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is missing: `sudo ci/setup.sh --selftest` installs it", pytrace=False)
    built = {}
    for name in ("silent-fuse", "confine-after-fork", "thread-keeps", "thread-holds", "vfork-park"):
        built[name] = tmp_path_factory.mktemp("helpers") / name
        subprocess.run(["gcc", "-static", "-O", "-pthread", "-o", str(built[name]),
                        str(REPO / f"tests/e2e/helpers/{name}.c")], check=True)
    return built


def host_disk() -> str | None:
    """The node of the whole disk holding the host's /, where the host has one."""
    uevent = Path(f"/sys/dev/block/{root_disk_major()}:0/uevent")
    names = [line.split("=", 1)[1] for line in uevent.read_text().splitlines()
             if line.startswith("DEVNAME=")] if uevent.exists() else []
    return next((f"/dev/{name}" for name in names if Path(f"/dev/{name}").exists()), None)


@pytest.fixture(scope="module")
def evasive(helpers):
    """The evasive containers and a default one, all ready; removed at the end."""
    open_many = f"i=0; while [ $i -lt {MANY} ]; do eval \"exec $((i + 100))</dev/null\"; i=$((i + 1)); done"
    host_root = ("--cap-add=SYS_ADMIN", "--volume=/:/host:ro")
    items = {
        "default": settled("true"),
        # the host's / held by descriptors the host looks at, and beyond them
        "held at 1600": settled("exec 1600</host && umount -l /host", *host_root),
        "held among many": settled(f"exec 3</host && umount -l /host && {open_many}", *host_root),
        "deep /dev": settled("cd /dev && i=0 && while [ $i -lt 40 ]; do mkdir d && cd d; i=$((i + 1)); done"),
        "link not utf-8": settled("ip link set eth0 down && ip link set eth0 name \"$(printf 'e\\377')\"",
                                  "--cap-add=NET_ADMIN"),
        # a worker thread keeps CAP_SYS_ADMIN, no filter and no no_new_privs, and mounts
        # every two seconds; the main thread alone gives them all up (credentials are per thread)
        "thread kept": canary("--cap-add=SYS_ADMIN", "--security-opt=seccomp=unconfined",
                              "--security-opt=apparmor=unconfined",
                              f"--volume={helpers['thread-keeps']}:/thread-keeps:ro",
                              command=("/thread-keeps",), tty=False),
        # a thread with a working directory of its own stands in the host's / as it is unmounted
        "thread holds the host": canary(*host_root, "--security-opt=apparmor=unconfined",
                                        f"--volume={helpers['thread-holds']}:/thread-holds:ro",
                                        command=("/thread-holds",), tty=False),
        # a process that never returns from vfork() cannot stop to hand its filters over
        "parked in vfork": settled("{ /vfork-park & }", f"--volume={helpers['vfork-park']}:/vfork-park:ro",
                                   *((f"--device={host_disk()}",) if host_disk() else ())),
        "fork loop": settled("for loop in 1 2; do { while :; do /bin/true; done & }; done"),
        "paused": settled("true"),
        "init": settled("true", "--init"),
        # its main process runs as uid 1000; a process exec'd into it as root (see below)
        "root beside non-root": canary("--user=1000:1000", command=("sleep", "infinity"), tty=False),
    }
    for name, hop in (("helper kept", "stay"), ("helper hopping", "hop")):
        # PID 1 confines itself; its helper keeps CAP_SYS_ADMIN, and may hop from PID to PID
        items[name] = canary("--cap-add=SYS_ADMIN", f"--volume={helpers['confine-after-fork']}:/confine:ro",
                             command=("/confine", hop), tty=False)
    if FUSE.exists():
        items["silent fuse"] = canary(f"--device={FUSE}", "--cap-add=SYS_ADMIN",
                                      f"--volume={helpers['silent-fuse']}:/silent-fuse:ro",
                                      command=("/silent-fuse",), tty=False)
    names = {name: f"isoverify-selftest-{secrets.token_hex(4)}" for name in items}
    try:
        for name, item in items.items():
            subprocess.run(docker_run(names[name], item, (SESSION_LABEL,)), check=True, capture_output=True)
        subprocess.run(["docker", "exec", "-d", "-u", "0", names["root beside non-root"], "sh", "-c",
                        "touch /ready; exec sleep infinity"], check=True, capture_output=True)
        settle(names.values())
        subprocess.run(["docker", "pause", names["paused"]], check=True, capture_output=True)
        yield names
    finally:
        subprocess.run(["docker", "rm", "-f", *names.values()], capture_output=True)


@pytest.fixture(scope="module")
def judged(evasive, tmp_path_factory):
    began = time.monotonic()
    run = run_suite(tmp_path_factory.mktemp("evasion"), *(f"--iso-container=docker://{name}"
                                                          for name in evasive.values()),
                    "--iso-timeout=5", timeout=300)
    return run, {item: f"docker://{name}" for item, name in evasive.items()}, time.monotonic() - began


def test_the_default_container_beside_them_is_judged_in_full(judged):
    run, targets, _ = judged
    assert run.exit_code == 1, run.output
    assert "error" not in run.verdicts(targets["default"]).values(), run.verdicts(targets["default"])


def test_a_filesystem_that_never_answers_is_not_asked_and_stalls_nothing(judged):
    run, targets, seconds = judged
    if "silent fuse" not in targets:
        pytest.skip(f"no {FUSE} on this machine")
    devices = record(run, targets["silent fuse"], "devices")
    assert devices["verdict"] == "error" and "FUSE" in devices["summary"], devices
    assert run.verdicts(targets["silent fuse"])["pid"] == "pass"  # every other reading was taken
    assert seconds < 60, f"the run took {seconds:.0f} s: something waited on the silent filesystem"


@pytest.mark.parametrize("name", ["helper kept", "helper hopping"])
def test_a_process_beside_a_confined_main_one_is_never_missed(judged, name):
    """Every process present when its reading ends was read, or the container is read
    again: a helper that hands itself on to a new PID faster than it is read fails `caps`,
    or its container is an error — it never passes."""
    run, targets, _ = judged
    caps = record(run, targets[name], "caps")
    assert caps["verdict"] in ("fail", "error"), caps
    if caps["verdict"] == "fail":
        assert "SYS_ADMIN" in caps["summary"], caps
    else:
        assert "started or were replaced" in caps["summary"], caps
    if name == "helper kept":
        assert caps["verdict"] == "fail", caps


def test_a_held_host_directory_is_seen_beyond_the_first_thousand_descriptors(judged):
    run, targets, _ = judged
    held = record(run, targets["held at 1600"], "host-mounts")
    assert held["verdict"] == "fail" and "fd1600" in held["summary"], held


def test_more_descriptors_than_are_looked_at_are_an_error_never_a_pass(judged):
    run, targets, _ = judged
    held = record(run, targets["held among many"], "host-mounts")
    assert held["verdict"] == "error" and "beyond those looked at" in held["summary"], held


def test_a_dev_deeper_than_is_listed_is_an_error_of_devices_alone(judged):
    run, targets, _ = judged
    verdicts = run.verdicts(targets["deep /dev"])
    assert verdicts["devices"] == "error", verdicts
    # privileged asks what devices it can open
    assert {name for name, verdict in verdicts.items() if verdict == "error"} == {"devices", "privileged"}, verdicts
    assert "deeper than" in record(run, targets["deep /dev"], "devices")["summary"]


def test_a_link_named_in_bytes_that_are_not_utf8_is_read_and_escaped(judged):
    run, targets, _ = judged
    net = record(run, targets["link not utf-8"], "net")
    assert net["verdict"] == "pass", net
    assert "e\\377" in net["summary"] + "".join(e["text"] for e in net["evidence"]["container"]), net


def errors(run, target: str) -> set[str]:
    return {name for name, verdict in run.verdicts(target).items() if verdict == "error"}


def test_a_thread_that_kept_its_privileges_is_judged_and_named(judged):
    """Credentials, no_new_privs and filters are each thread's own: the worker that kept
    CAP_SYS_ADMIN and no filter breaks caps, seccomp and nnp, named by its thread ID and name."""
    run, targets, _ = judged
    target = targets["thread kept"]
    assert not errors(run, target), run.verdicts(target)
    for prop in ("caps", "seccomp", "nnp"):
        found = record(run, target, prop)
        assert found["verdict"] in ("fail", "advisory") and "thread" in found["summary"], found
        assert "(keeper) of process" in found["summary"], found
    assert "SYS_ADMIN" in record(run, target, "caps")["summary"]


def test_a_process_parked_in_vfork_is_not_waited_on_and_hides_nothing_else(judged):
    """It never stops for the tracer: its filters are an error of seccomp alone (said at once,
    never waited on), and the host's disk handed to the container still fails devices."""
    run, targets, seconds = judged
    target = targets["parked in vfork"]
    seccomp = record(run, target, "seccomp")
    assert seccomp["verdict"] == "error" and "did not stop" in seccomp["summary"], seccomp
    assert errors(run, target) <= {"seccomp", "privileged"}, run.verdicts(target)
    if host_disk():
        assert run.verdicts(target)["devices"] == "fail", run.verdicts(target)
    assert seconds < 90, f"the run took {seconds:.0f} s"


def test_a_paused_container_is_judged_but_for_its_filters(judged):
    run, targets, _ = judged
    target = targets["paused"]
    assert errors(run, target) <= {"seccomp", "privileged"}, run.verdicts(target)
    seccomp = record(run, target, "seccomp")
    assert seccomp["verdict"] == "error" and "paused" in seccomp["summary"], seccomp
    assert run.verdicts(target)["pid"] == "pass"


def test_a_fork_loop_is_judged_from_what_held_still_and_names_the_rest(judged):
    """Processes that keep coming make every property read of each process an error that
    names them (one could hide among them); the others are judged. Should a reading catch the
    loops between two forks, its processes held still and are judged as the default's are."""
    run, targets, _ = judged
    target, default = targets["fork loop"], targets["default"]
    for prop in errors(run, target):
        assert "started or were replaced" in record(run, target, prop)["summary"], record(run, target, prop)
    for prop in ("caps", "seccomp", "pid"):
        assert run.verdicts(target)[prop] in ("error", run.verdicts(default)[prop]), (prop, run.verdicts(target))
    for prop in ("rootfs", "memory-limit", "pids-limit", "cpu-limit"):
        assert run.verdicts(target)[prop] == run.verdicts(default)[prop], prop


def test_the_engines_own_init_is_not_a_host_mount(judged):
    run, targets, _ = judged
    assert run.verdicts(targets["init"]) == run.verdicts(targets["default"])


def test_a_root_process_beside_a_non_root_main_one_is_the_one_named(judged):
    run, targets, _ = judged
    nonroot = record(run, targets["root beside non-root"], "nonroot")
    assert nonroot["verdict"] == "advisory", nonroot
    assert nonroot["summary"].startswith("its process ") and "has host uid 0" in nonroot["summary"], nonroot
    assert "main process has" not in nonroot["summary"]


def test_a_thread_standing_in_an_unmounted_host_root_is_seen(judged):
    run, targets, _ = judged
    held = record(run, targets["thread holds the host"], "host-mounts")
    assert held["verdict"] == "fail" and "holds cwd on the host's filesystem" in held["summary"], held
    assert held["summary"].startswith("thread "), held
