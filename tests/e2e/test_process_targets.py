"""pid://: any process as a container — hand-made ones, and one left in the host's namespaces."""

import subprocess
from pathlib import Path

import pytest

from isoverify.plugin import EXIT_UNOBSERVABLE

NAMESPACE_PROPERTIES = {"root", "rootfs", "pid", "net", "uts", "ipc", "mntns", "cgroupns"}
ALL_NAMESPACES = ["--pid", "--mount", "--uts", "--ipc", "--net", "--cgroup"]


def test_handmade_container_is_isolated_in_every_namespace_it_made(handmade, suite):
    pid = handmade(*ALL_NAMESPACES)
    run = suite(f"--iso-container=pid://{pid}")
    verdicts = run.verdicts()
    assert {p: verdicts[p] for p in NAMESPACE_PROPERTIES} == {p: "pass" for p in NAMESPACE_PROPERTIES}, verdicts
    # made by root without a user namespace: root inside is the host's root
    assert verdicts["user"] == "advisory" and verdicts["nonroot"] == "advisory"
    assert verdicts["drift"] == "advisory"  # a bare process declares nothing
    pid_record = next(r for r in run.results if r["property"] == "pid")
    inside_ps = next(e["text"] for e in pid_record["evidence"]["container"] if e["label"].startswith("$ ps"))
    assert inside_ps.splitlines()[1].split()[0] == "1" and "sleep" in inside_ps.splitlines()[1]


@pytest.mark.skipif(not Path("/proc/self/ns/time").exists(), reason="this kernel has no time namespaces")
def test_rootless_handmade_container_has_its_own_user_and_time(handmade, suite):
    if int(Path("/proc/sys/user/max_user_namespaces").read_text()) == 0:
        pytest.skip("this kernel allows no user namespaces (user.max_user_namespaces = 0)")
    pid = handmade(*ALL_NAMESPACES, "--time", as_uid=100000)
    run = suite(f"--iso-container=pid://{pid}")
    verdicts = run.verdicts()
    assert {p: verdicts[p] for p in NAMESPACE_PROPERTIES | {"user", "timens", "nonroot"}} == \
        {p: "pass" for p in NAMESPACE_PROPERTIES | {"user", "timens", "nonroot"}}, verdicts
    user = next(r for r in run.results if r["property"] == "user")
    assert "host uid 100000" in user["summary"]


def test_process_left_in_the_hosts_namespaces_fails_them(suite):
    with subprocess.Popen(["sleep", "1000"]) as process:
        try:
            run = suite(f"--iso-container=pid://{process.pid}")
        finally:
            process.kill()
    assert run.exit_code == 1
    expected = NAMESPACE_PROPERTIES | {"user", "timens"}
    assert expected <= run.broken(), run.verdicts()


def test_missing_process_is_an_error(suite):
    pid = next(p for p in range(4_000_000, 4_100_000) if not Path(f"/proc/{p}").exists())
    run = suite(f"--iso-container=pid://{pid}")
    assert run.exit_code == EXIT_UNOBSERVABLE
    assert set(run.verdicts().values()) == {"error"}
    assert f"process {pid} does not exist" in run.output
