"""The embedded default and named containers, end to end through `pytest` in the repo root."""

import xml.etree.ElementTree as ET

from conftest import ours
from isoverify.judge.catalogue import BASELINE, DEFAULT_PROFILE, HARDENED, judged_in
from isoverify.plugin import EXIT_UNOBSERVABLE

LESSON = {"root": "pass", "rootfs": "pass", "pid": "pass", "net": "pass", "uts": "pass", "user": "advisory"}


def test_default_run_verifies_the_managed_busybox_and_writes_three_reports(suite, docker_client):
    run = suite()
    assert run.exit_code == 0, run.output
    verdicts = run.verdicts()
    assert set(verdicts) == {prop.id for prop in judged_in(DEFAULT_PROFILE)}
    assert {p: verdicts[p] for p in LESSON} == LESSON
    assert all(verdicts[p] == "pass" for p in BASELINE), verdicts
    assert all(r["target"] == "busybox:latest (managed)" for r in run.results)
    pid = next(r for r in run.results if r["property"] == "pid")
    inside_ps = next(e["text"] for e in pid["evidence"]["container"] if e["label"].startswith("$ ps"))
    first = inside_ps.splitlines()[1].split()
    assert first[0] == "1" and first[-1] == "sh", inside_ps  # the lesson: sh is PID 1
    assert (run.reports / "isolation.html").stat().st_size > 0
    cases = list(ET.parse(run.reports / "isolation.xml").getroot().iter("testcase"))
    assert len(cases) == len(judged_in(DEFAULT_PROFILE))
    assert not [(c.name, c.labels) for c in ours(docker_client)], "the managed container outlived the run"


def test_seed_profile_enforces_the_lesson_only(suite):
    run = suite("--iso-profile=seed")
    assert run.exit_code == 0, run.output
    assert {p: run.verdicts()[p] for p in LESSON} == LESSON
    enforced = {r["property"] for r in run.results if r["enforced"]}
    assert enforced == set(LESSON) - {"user"}


def test_hardened_profile_fails_default_busybox_on_what_it_lacks(suite):
    run = suite("--iso-profile=hardened")
    assert run.exit_code == 1
    hardening = set(HARDENED) - set(BASELINE)
    # cgroupns: Docker's default is the host's on cgroup v1 and a private one on v2.
    assert hardening - {"cgroupns"} <= run.failed() <= hardening, run.verdicts()
    assert all(run.verdicts()[p] == "pass" for p in BASELINE)


def test_isolated_named_container_passes_and_is_left_running(canary, suite):
    container = canary()
    run = suite(f"--iso-container=docker://{container.name}")
    assert run.exit_code == 0, run.output
    assert run.failed() == set()
    container.reload()
    assert container.status == "running", "a container the user names must never be stopped"


def test_missing_container_is_an_error_never_a_pass(suite):
    run = suite("--iso-container=docker://isoverify-selftest-no-such-container")
    assert run.exit_code == EXIT_UNOBSERVABLE
    assert set(run.verdicts().values()) == {"error"}
    assert "does not exist" in run.output


def test_stopped_container_is_an_error_never_a_pass(canary, suite):
    container = canary(command=["true"], tty=False)
    container.wait()
    run = suite(f"--iso-container=docker://{container.name}")
    assert run.exit_code == EXIT_UNOBSERVABLE
    assert set(run.verdicts().values()) == {"error"}
    assert "is not running" in run.output


def test_two_containers_make_two_sets_of_tests(canary, suite):
    first, second = canary(), canary(pid_mode="host")
    run = suite(f"--iso-container=docker://{first.name}", f"--iso-container=docker://{second.name}")
    assert run.verdicts(f"docker://{first.name}")["pid"] == "pass"
    assert run.verdicts(f"docker://{second.name}")["pid"] == "fail"
    assert run.exit_code == 1


def test_container_without_a_shell_is_judged_from_the_host(canary, suite, shell_less_image):
    container = canary(image=shell_less_image, tty=False, stdin_open=False)
    by_host = suite(f"--iso-container=docker://{container.name}")
    assert by_host.exit_code == 0, by_host.output
    pid = next(r for r in by_host.results if r["property"] == "pid")
    assert pid["verdict"] == "pass"
    inside_ps = next(e["text"] for e in pid["evidence"]["container"] if e["label"].startswith("$ ps"))
    assert inside_ps.splitlines()[1].split()[-1] == "busybox"  # read by the host: it needs no shell
    by_exec = suite(f"--iso-container=docker://{container.name}", "--iso-inside=exec")
    assert by_exec.exit_code == 0, by_exec.output
    assert by_exec.verdicts()["pid"] == "pass"
    views = [e for r in by_exec.results for e in r["evidence"]["container"] if e["label"] == "(no view)"]
    assert views and all("no shell" in e["text"] for e in views)


def test_markers_select_by_control(suite):
    run = suite("-m", "cis_5_16 or pss_hostnetwork")
    assert set(run.verdicts()) == {"pid", "net"}


def test_a_script_as_pid_1_is_the_containers_own_entrypoint(canary, suite):
    """A script run as PID 1: the kernel names the process by the script, its command line
    by the interpreter — the host's reading of `ps` must not take one for the other."""
    script = "printf '#!/bin/sh\\nwhile :; do sleep 1; done\\n' > /run.sh && chmod +x /run.sh && exec /run.sh"
    container = canary(command=["sh", "-c", script], tty=False)
    for inside in ("host", "exec"):
        run = suite(f"--iso-container=docker://{container.name}", f"--iso-inside={inside}", "-k", "pid and not limit")
        assert run.verdicts()["pid"] == "pass", (inside, run.output)
