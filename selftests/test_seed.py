"""The six seed properties on real containers: the default run, and a canary breaking each."""

import xml.etree.ElementTree as ET

import pytest

from isoverify.properties import CATALOGUE
from isoverify.targets import LABEL

SEED = {prop.id for prop in CATALOGUE}


def test_default_run_verifies_the_managed_busybox_and_writes_three_reports(suite, docker_client):
    run = suite()
    assert run.exit_code == 0, run.output
    assert run.verdicts() == {"root": "pass", "rootfs": "pass", "pid": "pass", "net": "pass",
                              "uts": "pass", "user": "advisory"}
    assert all(r["target"] == "busybox:latest (managed)" for r in run.results)
    pid = next(r for r in run.results if r["property"] == "pid")
    inside_ps = next(e["text"] for e in pid["evidence"]["container"] if e["label"] == "$ ps aux")
    first = inside_ps.splitlines()[1].split()
    assert first[0] == "1" and first[-1] == "sh", inside_ps  # the lesson: sh is PID 1
    assert (run.reports / "isolation.html").stat().st_size > 0
    cases = ET.parse(run.reports / "isolation.xml").getroot().iter("testcase")
    assert len(list(cases)) == len(SEED)
    assert not docker_client.containers.list(all=True, filters={"label": LABEL}), \
        "the managed container outlived the run"


# Each canary breaks one kind of isolation; the set is exactly what must fail.
CANARIES = {
    "pid=host": (dict(pid_mode="host"), {"pid"}),
    # Docker gives a --net=host container the host's hostname in a UTS namespace of its
    # own: the kernel shows a separate namespace, the name is the host's, so `uts` fails too.
    "net=host": (dict(network_mode="host"), {"net", "uts"}),
    "uts=host": (dict(uts_mode="host"), {"uts"}),
    "chroot into host /": (dict(volumes={"/": {"bind": "/host", "mode": "ro"}}, tty=False,
                                 command=["chroot", "/host", "sleep", "infinity"]), {"root", "rootfs"}),
}


@pytest.mark.parametrize("options, expected", CANARIES.values(), ids=CANARIES.keys())
def test_canary_fails_exactly_the_property_it_breaks(canary, suite, options, expected):
    container = canary(**options)
    run = suite(f"--iso-container=docker://{container.name}")
    assert run.exit_code == 1, run.output
    assert run.failed() == expected, run.verdicts()
    others = {p: v for p, v in run.verdicts().items() if p not in expected}
    assert others == {p: "advisory" if p == "user" else "pass" for p in SEED - expected}
    container.reload()
    assert container.status == "running", "a container the user named must never be stopped"


def test_isolated_named_container_passes(canary, suite):
    container = canary()
    run = suite(f"--iso-container=docker://{container.name}")
    assert run.exit_code == 0, run.output
    assert run.failed() == set()


def test_missing_container_is_an_error_never_a_pass(suite):
    run = suite("--iso-container=docker://isoverify-selftest-no-such-container")
    assert run.exit_code == 1
    assert set(run.verdicts().values()) == {"error"}
    assert "does not exist" in run.output


def test_stopped_container_is_an_error_never_a_pass(canary, suite):
    container = canary(command=["true"], tty=False)
    container.wait()
    run = suite(f"--iso-container=docker://{container.name}")
    assert run.exit_code == 1
    assert set(run.verdicts().values()) == {"error"}
    assert "is not running" in run.output


def test_two_containers_make_two_sets_of_tests(canary, suite):
    first, second = canary(), canary(pid_mode="host")
    run = suite(f"--iso-container=docker://{first.name}", f"--iso-container=docker://{second.name}")
    by_target = {}
    for record in run.results:
        by_target.setdefault(record["target"], {})[record["property"]] = record["verdict"]
    assert by_target[f"docker://{first.name}"]["pid"] == "pass"
    assert by_target[f"docker://{second.name}"]["pid"] == "fail"
    assert run.exit_code == 1


def test_container_without_a_shell_is_judged_from_the_host(canary, suite, shell_less_image):
    container = canary(image=shell_less_image, tty=False, stdin_open=False)
    run = suite(f"--iso-container=docker://{container.name}")
    assert run.exit_code == 0, run.output
    assert run.verdicts()["pid"] == "pass"
    views = [e for r in run.results for e in r["evidence"]["container"] if e["label"] == "(no view)"]
    assert views and all("no shell" in e["text"] for e in views)
