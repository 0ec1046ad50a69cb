"""Seccomp filters a container installs itself (tests/e2e/helpers/keyed-filter.c), each built to
refuse the calls a default profile refuses for the inputs one would try, and to let them
through for others: keyed on the instruction pointer or an argument, on one ABI only, or
handing them to a tracer or a supervisor. Each runs under seccomp=unconfined, so that its own
filter is the only one in force, and all are judged in one run beside an honest strict filter
and a plain `sleep`: each must fail `seccomp`, saying which calls get through and when, and
break nothing else that the `sleep` does not."""

import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
from adversaries import container_texts, record, settled
from matrix import canary, docker_run
from test_adversaries import settle

from conftest import REPO, SESSION_LABEL, run_suite

# kind: how the summary says its calls get through
KINDS = {
    "ip": "on x86-64 when ip.low == 0 and ip.high != 0, or when ip.low != 0",
    "arg": "on x86-64 when arg5.low == 0 and arg5.high != 0, or when arg5.low != 0",
    "arch": "on x32 and i386 always",
    "trace": "on x86-64 always, left to a tracer (TRACE)",
    "notify": "on x86-64 always, left to a supervisor (USER_NOTIF)",
    "log": "on x86-64 always, allowed and logged (LOG)",
}


@pytest.fixture(scope="module")
def helper(tmp_path_factory) -> Path:
    if shutil.which("gcc") is None:
        pytest.fail("gcc is missing: `sudo ci/setup.sh --selftest` installs it", pytrace=False)
    built = tmp_path_factory.mktemp("helpers") / "keyed-filter"
    subprocess.run(["gcc", "-static", "-O", "-o", str(built), str(REPO / "tests/e2e/helpers/keyed-filter.c")],
                   check=True)
    return built


@pytest.fixture(scope="module")
def filtered(helper):
    """A container for each kind of filter, the honest one and a plain `sleep`, all ready; what
    each helper said of its own attempt; removed at the end."""
    unconfined = ("--security-opt=seccomp=unconfined", f"--volume={helper}:/keyed-filter:ro")
    items = {kind: canary(*unconfined, command=("/keyed-filter", kind), tty=False) for kind in [*KINDS, "strict"]}
    items["sleep"] = settled("true", *unconfined)
    names = {item: f"isoverify-selftest-{secrets.token_hex(4)}" for item in items}
    try:
        for item, started in items.items():
            subprocess.run(docker_run(names[item], started, (SESSION_LABEL,)), check=True, capture_output=True)
        settle(names.values())
        said = {item: subprocess.run(["docker", "logs", name], check=False, capture_output=True, text=True).stdout
                for item, name in names.items()}
        yield names, said
    finally:
        subprocess.run(["docker", "rm", "-f", *names.values()], check=False, capture_output=True)


@pytest.fixture(scope="module")
def judged(filtered, tmp_path_factory):
    names, said = filtered
    run = run_suite(tmp_path_factory.mktemp("filters"), *(f"--iso-container=docker://{name}"
                                                          for name in names.values()), timeout=300)
    return run, {item: f"docker://{name}" for item, name in names.items()}, said


@pytest.mark.parametrize("kind", KINDS)
def test_a_filter_that_lets_guarded_calls_through_for_some_inputs_fails_seccomp_saying_when(judged, kind):
    run, targets, _ = judged
    seccomp = record(run, targets[kind], "seccomp")
    assert seccomp["verdict"] == "fail", seccomp
    assert "unshare" in seccomp["summary"] and KINDS[kind] in seccomp["summary"], seccomp["summary"]
    assert f"unshare gets through {KINDS[kind].split(',')[0]}" in container_texts(seccomp)
    assert "e.g. nr " in container_texts(seccomp)  # an input that does


@pytest.mark.parametrize("kind", [*KINDS, "strict"])
def test_it_breaks_no_more_than_a_container_without_a_filter(judged, kind):
    """no_new_privs, which the helper sets, holds; `drift` sees the filter and no_new_privs
    that were not declared."""
    run, targets, _ = judged
    verdicts = run.verdicts(targets[kind])
    assert "error" not in verdicts.values(), verdicts
    assert verdicts["nnp"] == "pass", verdicts
    plain = run.broken(targets["sleep"])
    assert "seccomp" in plain
    expected = plain - {"nnp"} - ({"seccomp"} if kind == "strict" else set())
    assert run.broken(targets[kind]) - {"drift"} == expected, (verdicts, run.verdicts(targets["sleep"]))
    drift = record(run, targets[kind], "drift")["summary"]
    assert "seccomp: declared unconfined, observed mode 2" in drift and "no-new-privileges: declared off" in drift


def test_an_honest_strict_filter_passes_seccomp(judged):
    run, targets, _ = judged
    seccomp = record(run, targets["strict"], "seccomp")
    assert seccomp["verdict"] == "pass", seccomp


def test_the_calls_the_filters_seem_to_refuse_are_made_where_the_host_lets_them(judged):
    """Under each kind that lets it through, unshare(CLONE_NEWUSER) succeeds wherever this
    host lets a container make a user namespace at all (LOG's shows it does); the i386
    call needs the kernel's 32-bit emulation. With no tracer, TRACE's call fails; the honest
    filter refuses it."""
    _, _, said = judged
    if "succeeded" not in said["log"]:
        pytest.skip(f"this host lets no container make a user namespace: {said['log']!r}")
    for kind in ("ip", "arg", "notify"):
        assert f"unshare(CLONE_NEWUSER) under the {kind} filter: succeeded" in said[kind], said
    assert said["arch"].split(": ")[-1].strip() in ("succeeded", "Function not implemented"), said
    assert "under the trace filter: Function not implemented" in said["trace"], said
    assert "under the strict filter: Operation not permitted" in said["strict"], said
