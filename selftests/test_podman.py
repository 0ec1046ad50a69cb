"""podman:// containers, checked through their host's podman CLI."""

from isoverify.properties import BASELINE


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
