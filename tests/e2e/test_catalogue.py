"""The canary matrix: one real container per weakened (or hardened) configuration.

Each canary is compared with a default container judged in the same run: the
properties that do not hold on the canary must be exactly those of the
default, plus the ones the canary breaks, minus the ones it hardens. So each
assertion is about what the kernel shows on this machine, in both directions.
"""

import secrets
import subprocess
from pathlib import Path

import pytest
from matrix import PRIVILEGED_REFUSED, canaries, parse_started, start_all_script, this_host

from conftest import SESSION_LABEL, run_suite

PLACE = this_host(Path("/tmp") / f"isoverify-shared-{secrets.token_hex(4)}")
CANARIES = canaries(PLACE)


@pytest.fixture(scope="module")
def started():
    """Every canary and one default container, started in one script; removed at the end."""
    names = {name: f"isoverify-selftest-{secrets.token_hex(4)}" for name in CANARIES}
    items = {name: item for name, item in CANARIES.items() if item is not None}
    done = subprocess.run(["sh", "-c", start_all_script(PLACE, names, items, (SESSION_LABEL,))],
                          capture_output=True, text=True, timeout=300)
    running, refused = parse_started(done.stdout, items)
    try:
        assert done.returncode == 0 and "default" in running, done.stdout + done.stderr
        for name, why in refused.items():
            assert PRIVILEGED_REFUSED in why, f"{name} was refused: {why}"
        refused = {name: f"the engine refuses it on this machine: {PRIVILEGED_REFUSED}" for name in refused}
        refused.update({name: "this machine has none of /dev/fuse, /dev/kvm, /dev/net/tun"
                        for name, item in CANARIES.items() if item is None})
        yield {name: f"docker://{names[name]}" for name in running}, refused
    finally:
        subprocess.run(["docker", "rm", "-f", *(names[name] for name in running)], capture_output=True)
        subprocess.run(["umount", PLACE.shared], capture_output=True)
        subprocess.run(["rmdir", PLACE.shared], capture_output=True)


@pytest.fixture(scope="module", params=["host", "exec"], ids=["host view", "exec view"])
def matrix(request, started, tmp_path_factory):
    """Every canary and the default judged in one suite run: once with the inside view read
    by the host, once through the engine's exec — the verdicts are the same."""
    targets, refused = started
    args = [f"--iso-container={target}" for target in targets.values()]
    run = run_suite(tmp_path_factory.mktemp("matrix"), *args, f"--iso-inside={request.param}", timeout=600)
    yield run, targets, refused


@pytest.mark.parametrize("name", CANARIES)
def test_canary_breaks_exactly_what_it_weakens(matrix, name):
    run, targets, refused = matrix
    if name in refused:
        pytest.skip(f"{name}: {refused[name]}")
    breaks, hardens = CANARIES[name].breaks, CANARIES[name].hardens
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
