"""Selections (`docker://*`, by label) and parallel runs: same verdicts, each target probed once."""

import datetime
import subprocess
import xml.etree.ElementTree as ET

from isoverify.judge.catalogue import DEFAULT_PROFILE, judged_in


def engine_execs(since: str, until: str) -> dict[str, int]:
    """How many `exec` each container ran between two instants, from the engine's own events."""
    events = subprocess.run(["docker", "events", "--since", since, "--until", until, "--filter", "event=exec_die",
                             "--format", "{{.Actor.Attributes.name}}"], capture_output=True, text=True, check=True)
    counts: dict[str, int] = {}
    for name in events.stdout.split():
        counts[name] = counts.get(name, 0) + 1
    return counts


def test_every_running_container_becomes_its_own_targets(canary, suite):
    containers = [canary(), canary(), canary(pid_mode="host")]
    run = suite("--iso-container=docker://*", "-k", "pid and not limit")
    mine = {r["target"]: r["verdict"] for r in run.results
            if any(r["target"].startswith(f"docker://{c.name} (") for c in containers)}
    assert len(mine) == 3, run.verdicts()
    assert sorted(mine.values()) == ["fail", "pass", "pass"]
    ids = [case.get("name") for case in ET.parse(run.reports / "isolation.xml").getroot().iter("testcase")]
    assert ids and not any(c.name in test_id for c in containers for test_id in ids)  # never quote the engine


def test_parallel_run_gives_the_same_verdicts_probing_each_target_once(canary, suite):
    key = "io.isoverify.selftest.parallel"
    selected = [canary(labels={key: "yes"}) for _ in range(3)]
    # through the engine's exec, so that the engine's own events count the inside probes
    selection = (f"--iso-container=docker://*?label={key}=yes", "--iso-inside=exec")
    serial = suite(*selection, "-n", "0")
    start = datetime.datetime.now(datetime.timezone.utc).isoformat()
    parallel = suite(*selection, "-n", "2")
    end = datetime.datetime.now(datetime.timezone.utc).isoformat()
    assert serial.exit_code == parallel.exit_code == 0, parallel.output

    def verdicts(run):
        return sorted((r["target"], r["property"], r["verdict"]) for r in run.results)

    assert verdicts(parallel) == verdicts(serial) and len(serial.results) == 3 * len(judged_in(DEFAULT_PROFILE))
    assert engine_execs(start, end) == {c.name: 1 for c in selected}
