"""kubectl://: a pod seen from inside only. No cluster runs here: a stand-in kubectl maps
`kubectl exec POD` onto `docker exec` of a real container, so the probe really runs."""

import os

from conftest import REPO
from isoverify.plugin import EXIT_UNOBSERVABLE


def test_pod_is_observed_inside_and_every_property_says_it_needs_the_node(canary, suite, tmp_path):
    pod = canary()
    log = tmp_path / "kubectl.log"
    stand_in = REPO / "tests" / "e2e" / "helpers" / "bin"
    run = suite(f"--iso-container=kubectl://{pod.name}?namespace=prod&container=app",
                env={"PATH": f"{stand_in}{os.pathsep}{os.environ['PATH']}", "ISOVERIFY_KUBECTL_LOG": str(log)})
    assert run.exit_code == EXIT_UNOBSERVABLE, run.output
    assert set(run.verdicts().values()) == {"error"}
    assert all("needs the kernel's view from the container's host" in r["summary"] for r in run.results)
    pid = next(r for r in run.results if r["property"] == "pid")
    ps = next(e["text"] for e in pid["evidence"]["container"] if e["label"] == "$ ps aux")
    assert ps.splitlines()[1].split()[0] == "1"  # the inside view is shown, never judged
    assert log.read_text().split("\n")[0].startswith(f"-n prod -c app exec {pod.name} -- /bin/sh -c")
