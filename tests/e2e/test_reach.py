"""Limits and user namespaces judged by what they leave possible, not by whether they are set."""

import os
from pathlib import Path

import pytest


def test_limits_at_or_above_what_the_host_has_limit_nothing(canary, suite):
    host_memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    loose = canary(mem_limit=host_memory * 2, pids_limit=pid_max, nano_cpus=os.cpu_count() * 10 ** 9)
    tight = canary(mem_limit="64m", pids_limit=64, nano_cpus=500_000_000)
    run = suite(f"--iso-container=docker://{loose.name}", f"--iso-container=docker://{tight.name}",
                "--iso-profile=hardened", "-k", "limit")
    summary = {(r["target"], r["property"]): (r["verdict"], r["summary"]) for r in run.results}
    for prop in ("memory-limit", "pids-limit", "cpu-limit"):
        verdict, why = summary[f"docker://{loose.name}", prop]
        assert verdict == "fail" and "limits nothing" in why, (prop, why)
        assert summary[f"docker://{tight.name}", prop][0] == "pass", prop


@pytest.mark.skipif(int(Path("/proc/sys/user/max_user_namespaces").read_text()) == 0,
                    reason="this kernel allows no user namespaces")
def test_a_user_namespace_that_maps_root_to_host_root_isolates_nothing(handmade, suite):
    """`unshare --user --map-root-user` run by root: a user namespace of its own, whose root
    is host uid 0."""
    pid = handmade("--user", "--map-root-user", "--pid", "--mount", "--uts", "--ipc", "--net")
    run = suite(f"--iso-container=pid://{pid}", "--iso-profile=hardened", "-k", "user and not limit")
    [record] = [r for r in run.results if r["property"] == "user"]  # -k user selects nonroot too (runAsUser)
    assert record["verdict"] == "fail" and "maps its root to host uid 0" in record["summary"], record
