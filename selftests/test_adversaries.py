"""Containers built to mislead the verifier: names that pose as other containers, a main
process that hides its mounts with chroot, links out of its root, floods, hostile names and
hangs beside a container that must still fail — and a verifier run from the wrong vantage."""

import time

import docker
import pytest

from conftest import start_canary
from isoverify.plugin import EXIT_UNOBSERVABLE


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


def test_a_main_process_that_chroots_hides_no_mount(canary, suite, tmp_path):
    """Its chroot hides the host's / and the engine's socket from its own mountinfo; the
    host reads the whole mount namespace from its root, and they fail."""
    jail = "mkdir -p /jail/bin && cp /bin/busybox /jail/bin/ && exec chroot /jail /bin/busybox sleep infinity"
    chrooted = canary(command=["sh", "-c", jail], tty=False,
                      volumes={"/": {"bind": "/hostroot", "mode": "ro"},
                               "/var/run/docker.sock": {"bind": "/var/run/docker.sock"}})
    run = suite(f"--iso-container=docker://{chrooted.name}")
    failed = run.failed()
    assert {"host-mounts", "runtime-socket"} <= failed, run.verdicts()
    mounts = next(r for r in run.results if r["property"] == "host-mounts")
    assert any("at the root of each of its mount namespaces" in e["label"] for e in mounts["evidence"]["container"])


def test_a_process_beside_the_main_one_is_judged_too(canary, suite):
    """Its main process leaves the host's network namespace after forking another that
    stays there: the container is as isolated as its least isolated process."""
    split = canary(network_mode="host", cap_add=["SYS_ADMIN"], tty=False,
                   command=["sh", "-c", "sleep infinity & exec unshare -n sleep infinity"])
    run = suite(f"--iso-container=docker://{split.name}", "-k", "net and not limit")
    [net] = run.results
    assert net["verdict"] == "fail" and "not its main one" in net["summary"], net["summary"]


def test_a_chroot_into_a_bind_of_its_own_root_hides_nothing(canary, suite):
    """A bind of its own / has the device and inode of its root filesystem: only the root
    of its mount namespace shows the host's / mounted at /host."""
    script = "mkdir /x && mount --bind / /x && mount -o remount,ro,bind /x && exec chroot /x sleep infinity"
    hidden = canary(cap_add=["SYS_ADMIN"], tty=False, volumes={"/": {"bind": "/host", "mode": "ro"}},
                    command=["sh", "-c", script])
    run = suite(f"--iso-container=docker://{hidden.name}", "-k", "host-mounts")
    assert run.verdicts()["host-mounts"] == "fail", run.output


@pytest.mark.parametrize("hold", ["exec 3</host", "cd /host"], ids=["descriptor", "working directory"])
def test_a_host_directory_held_after_unmounting_it_is_seen(canary, suite, hold):
    """`-v /:/host`, then a descriptor (or its working directory) kept on it and the mount
    lazily unmounted: no mount of its namespace shows the host's / any more, but it holds it."""
    held = canary(cap_add=["SYS_ADMIN"], tty=False, volumes={"/": {"bind": "/host", "mode": "ro"}},
                  command=["sh", "-c", f"{hold} && umount -l /host && exec sleep infinity"])
    run = suite(f"--iso-container=docker://{held.name}", "-k", "host-mounts")
    [record] = run.results
    assert record["verdict"] == "fail" and "outside every mount of its namespace" in record["summary"], record


def test_links_out_of_its_root_are_never_followed(canary, suite):
    """Absolute links in its /dev and /etc point at the host's disk, root and files: the
    host lists them as links, reads nothing through them, and no verdict changes."""
    links = ("ln -s /dev/vda /dev/hostdisk && ln -s / /dev/hostroot && ln -s /proc /dev/proc && "
             "mkdir /dev/d && ln -s /dev /dev/d/dev && ln -sf /etc/shadow /etc/passwd2 && exec sleep infinity")
    plain, linked = canary(), canary(command=["sh", "-c", links])
    run = suite(f"--iso-container=docker://{plain.name}", f"--iso-container=docker://{linked.name}")
    assert run.verdicts(f"docker://{linked.name}") == run.verdicts(f"docker://{plain.name}")
    devices = next(r for r in run.results if r["target"] == f"docker://{linked.name}" and r["property"] == "devices")
    listed = "\n".join(e["text"] for e in devices["evidence"]["container"])
    assert "vda" not in listed and "hostdisk" not in listed


def flood(docker_client, script: str, **options):
    """A container running `script`, then touching /ready and sleeping."""
    return start_canary(docker_client, tty=False, command=["sh", "-c", f"{script} ; touch /ready; exec sleep infinity"],
                        **options)


def wait_ready(container, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while container.exec_run(["/bin/busybox", "test", "-e", "/ready"]).exit_code != 0:
        assert time.monotonic() < deadline, f"{container.name} never got ready"
        time.sleep(0.2)


@pytest.fixture
def unruly(docker_client):
    """Containers that flood, name devices with newlines and markup, and hang, beside one
    that shares the host's PID namespace; all removed after the test."""
    deep = "/dev/" + "/".join(["d" * 200] * 12)
    long_path = "/m/" + "m" * 250
    scripts = {
        "device flood": f"mkdir -p {deep} && i=0 && while [ $i -lt 3000 ]; do mknod {deep}/n$i c 1 3; i=$((i+1)); done",
        "hostile names": "mknod \"$(printf '/dev/a\\nb')\" c 1 4 && mknod '/dev/<img src=x onerror=alert(1)>' c 1 4",
        # its own shell hangs: what the engine's exec runs inside it never ends
        "hanging shell": "rm /bin/sh && printf '#!/bin/busybox sh\\nexec /bin/busybox sleep 600\\n' > /bin/sh && "
                         "chmod +x /bin/sh",
        # each line of its mountinfo is long: 12,000 of them are more than its readings' bound
        "mount flood": f"mkdir -p {long_path} && i=0 && while [ $i -lt 12000 ]; do "
                       f"mount -t tmpfs -o size=4k t {long_path} || break; i=$((i+1)); done",
        "pid=host": "true",
    }
    options = {"mount flood": dict(cap_add=["SYS_ADMIN"]), "pid=host": dict(pid_mode="host")}
    started = {name: flood(docker_client, script, **options.get(name, {})) for name, script in scripts.items()}
    for container in started.values():
        wait_ready(container)
    yield started
    for container in started.values():
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass


@pytest.mark.parametrize("inside", ["host", "exec"])
def test_no_container_silences_another(unruly, suite, inside):
    run = suite(*(f"--iso-container=docker://{c.name}" for c in unruly.values()), f"--iso-inside={inside}",
                "--iso-timeout=20", timeout=600)
    assert run.exit_code == 1, run.output
    target = {name: f"docker://{c.name}" for name, c in unruly.items()}
    assert run.verdicts(target["pid=host"])["pid"] == "fail"
    # nodes its device cgroup lets it create but not open: judged, listed, not held against it
    for name in ("device flood", "hostile names"):
        assert "error" not in run.verdicts(target[name]).values(), (name, run.verdicts(target[name]))
    assert run.verdicts(target["device flood"])["devices"] == "fail"  # thousands: more than are listed
    hostile = next(r for r in run.results if r["target"] == target["hostile names"] and r["property"] == "devices")
    assert "/dev/a\\nb" in hostile["summary"] + "".join(e["text"] for e in hostile["evidence"]["container"])
    flooded = [r for r in run.results if r["target"] == target["mount flood"]]
    assert {r["verdict"] for r in flooded} == {"error"}
    assert all(unruly["mount flood"].name in r["summary"] and "exceeded" in r["summary"] for r in flooded)
    hung = next(r for r in run.results if r["target"] == target["hanging shell"] and r["property"] == "pid")
    assert hung["verdict"] == "pass"  # judged from the host's view
    if inside == "exec":
        [missing] = [e["text"] for e in hung["evidence"]["container"] if e["label"] == "(no view)"]
        assert "hung" in missing or "printed nothing" in missing or "timed out" in missing, missing


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


def test_more_processes_than_are_examined_is_an_error_never_a_pass(canary, suite):
    """A process hidden behind hundreds of decoys is not judged by the decoys: past the
    bound of processes examined, every property that reads them all is an error."""
    crowded = canary(tty=False, command=["sh", "-c", "for i in $(seq 520); do sleep 1d & done; exec sleep 1d"])
    time.sleep(2)
    run = suite(f"--iso-container=docker://{crowded.name}")
    assert run.exit_code == EXIT_UNOBSERVABLE, run.output
    verdicts = run.verdicts()
    for prop in ("caps", "privileged", "seccomp", "pid", "host-mounts", "devices"):
        assert verdicts[prop] == "error", (prop, verdicts)
    caps = next(r for r in run.results if r["property"] == "caps")
    assert "were not examined" in caps["summary"], caps["summary"]
