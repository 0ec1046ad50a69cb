"""podman:// containers, checked through their host's podman CLI: rootful, and rootless."""

import secrets
from pathlib import Path

from conftest import IMAGE, ROOTLESS_USER
from isoverify.judge.catalogue import BASELINE


def test_podman_container_passes_and_a_host_pid_one_fails_pid(podman_canary, suite):
    isolated, host_pid = podman_canary(), podman_canary("--pid=host")
    run = suite(f"--iso-container=podman://{isolated}", f"--iso-container=podman://{host_pid}")
    assert run.exit_code == 1, run.output
    assert run.failed(f"podman://{isolated}") == set()
    assert all(run.verdicts(f"podman://{isolated}")[p] == "pass" for p in BASELINE)
    assert run.failed(f"podman://{host_pid}") == {"pid"}
    [host] = run.document()["hosts"]
    assert host["engine"].startswith("podman ")


def test_every_running_podman_container_is_selected(podman_canary, suite):
    names = sorted(podman_canary() for _ in range(2))
    run = suite("--iso-container=podman://*", "-k", "pid and not limit")
    targets = {r["target"] for r in run.results}
    assert all(any(t.startswith(f"podman://{name} (") for t in targets) for name in names), targets


def test_rootless_podman_through_its_user(rootless, suite):
    names = {"isolated": f"isoverify-selftest-{secrets.token_hex(4)}",
             "host pid": f"isoverify-selftest-{secrets.token_hex(4)}"}
    try:
        for kind, name in names.items():
            extra = ["--pid=host"] if kind == "host pid" else []
            rootless("podman", "run", "-dit", f"--name={name}", "--network=none", *extra, IMAGE, check=True)
        driver = rootless("podman", "info", "--format", "{{.Store.GraphDriverName}}", text=True).stdout.strip()
        run = suite(f"--iso-host=local://?sudo=true&sudo_user={ROOTLESS_USER}",
                    *(f"--iso-container=podman://{name}" for name in names.values()))
    finally:
        for name in names.values():
            rootless("podman", "rm", "-f", "-t", "0", name)
    isolated = run.verdicts(f"podman://{names['isolated']}")
    # root inside is the user's uid on the host: a user namespace of its own, not host root
    assert {p: isolated[p] for p in ("user", "nonroot", "pid", "net", "uts")} == dict.fromkeys(
        ("user", "nonroot", "pid", "net", "uts"), "pass"), isolated
    # the kernel's truth about its storage: a plain directory under the vfs driver is no copy-on-write
    assert isolated["rootfs"] == ("fail" if driver == "vfs" else "pass"), (driver, isolated["rootfs"])
    assert "pid" in run.failed(f"podman://{names['host pid']}")


def device_nodes(open_to_others: bool) -> list[str]:
    """Host device nodes beyond the defaults that anyone may (or only root may) open."""
    found = []
    for node in ("/dev/fuse", "/dev/net/tun", "/dev/autofs", "/dev/kvm", "/dev/hwrng"):
        if Path(node).is_char_device() and bool(Path(node).stat().st_mode & 0o006) == open_to_others:
            found.append(node)
    return found


def test_rootless_containers_reaching_host_devices_are_judged_by_what_they_can_open(rootless, suite):
    """No device cgroup confines a rootless container here: a host node bound in (`--device`,
    `-v /dev/kmsg:/dev/kmsg`) is judged by what its permissions let the container's user open."""
    names = {"isolated": [], "kmsg": ["-v", "/dev/kmsg:/dev/kmsg"]}
    names.update({"open node": [f"--device={node}"] for node in device_nodes(open_to_others=True)[:1]})
    names.update({"root-only node": [f"--device={node}"] for node in device_nodes(open_to_others=False)[:1]})
    started = {kind: f"isoverify-selftest-{secrets.token_hex(4)}" for kind in names}
    try:
        for kind, options in names.items():
            rootless("podman", "run", "-dit", f"--name={started[kind]}", "--network=none", *options, IMAGE, check=True)
        run = suite(f"--iso-host=local://?sudo=true&sudo_user={ROOTLESS_USER}",
                    *(f"--iso-container=podman://{name}" for name in started.values()), "-k", "devices")
    finally:
        for name in started.values():
            rootless("podman", "rm", "-f", "-t", "0", name)
    records = {kind: next(r for r in run.results if r["target"] == f"podman://{name}")
               for kind, name in started.items()}
    expected = {"isolated": "pass", "kmsg": "fail", "open node": "fail", "root-only node": "pass"}
    assert {kind: r["verdict"] for kind, r in records.items()} == {kind: expected[kind] for kind in records}, run.output
    if "root-only node" in records:
        assert "it cannot open" in records["root-only node"]["summary"]
