"""The suite's own image, run as the per-node Job of deploy/kubernetes runs it: a pod on the
private containerd with exactly the manifest's security context, host PID namespace and
mounts (only the host paths of the socket and of the results moved to the rig's), verifying
its sibling pods from the node's kernel as a run on the node itself does."""

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, run_suite
from isoverify.collect.cri import api_pb2 as api

JOB = REPO / "deploy" / "kubernetes" / "job.yaml"
SIBLINGS = "siblings"  # the pods the suite's pod verifies beside itself
PODS = {
    "plain": "spec: {containers: [{name: app, image: busybox:latest, command: [sleep, '3600']}]}",
    "host-pid": "spec: {hostPID: true, containers: [{name: app, image: busybox:latest, command: [sleep, '3600']}]}",
    # its /proc/PID/fd is its user's: root reads it with DAC_READ_SEARCH only
    "non-root": """spec:
  securityContext: {runAsUser: 1000, runAsGroup: 1000}
  containers: [{name: app, image: busybox:latest, command: [sleep, '3600']}]""",
    # its filters are read by the suite's pod: a process under seccomp itself could not
    "confined": """spec:
  securityContext: {seccompProfile: {type: RuntimeDefault}}
  containers: [{name: app, image: busybox:latest, command: [sleep, '3600']}]""",
}
RUN_SECONDS = 600


@pytest.fixture(scope="module")
def image(cri_runtime) -> str:
    """The image ci/image.sh builds (offline here), in the private containerd's images."""
    built = subprocess.run(["sh", str(REPO / "ci" / "image.sh")], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr
    tag = built.stdout.strip()
    saved = subprocess.run(["docker", "save", tag], capture_output=True, check=True).stdout
    subprocess.run(["ctr", "-a", cri_runtime.socket, "-n", "k8s.io", "images", "import", "-"], input=saved,
                   capture_output=True, check=True)
    return tag


def node_pod(pod: dict, socket_path: str, results: Path) -> dict:
    """The Job's pod as its node's kubelet gets it: the host paths of the socket and of the
    results moved to the rig's, nothing else changed."""
    moved = {"cri-socket": socket_path, "results": str(results)}
    for volume in pod["spec"]["volumes"]:
        volume["hostPath"]["path"] = moved[volume["name"]]
    return pod


def run_node_pods(cri_runtime, pods: dict[str, dict], tmp_path_factory) -> dict[str, tuple[int, dict | None, str]]:
    """Each of the suite's pods run at once to its end: its exit code, results and log's tail."""
    started = {}
    for name, pod in pods.items():
        results = tmp_path_factory.mktemp(f"node-results-{name}")
        started[name] = (cri_runtime.run_pod(node_pod(pod, cri_runtime.socket, results)), results)
    ended = {}
    deadline = time.monotonic() + RUN_SECONDS
    with cri_runtime.client() as client:
        while len(ended) < len(started) and time.monotonic() < deadline:
            for name, (running, _) in started.items():
                [container_id] = running.container_ids.values()
                status = client.call("ContainerStatus", api.ContainerStatusRequest(container_id=container_id)).status
                if status.state == api.CONTAINER_EXITED:
                    ended[name] = status.exit_code
            time.sleep(1)
    outcome = {}
    for name, (running, results) in started.items():
        log = cri_runtime.run_dir / "logs" / "isoverify" / "0.log"  # the stand-in's NAME/0.log: one for all
        output = log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"
        assert name in ended, f"{name}: the suite's pod still runs after {RUN_SECONDS} s: {output}"
        report = results / f"{socket.gethostname()}.json"
        outcome[name] = ended[name], json.loads(report.read_text()) if report.exists() else None, output
    return outcome


def the_job(name: str = "") -> dict:
    """The Job's pod for this node, as job.yaml has it (named apart when several run at once)."""
    job = yaml.safe_load(JOB.read_text().replace("NODE_NAME_HERE", socket.gethostname()))
    pod = job["spec"]["template"]
    pod["metadata"] = {**pod["metadata"], "name": job["metadata"]["name"] + name,
                       "namespace": job["metadata"]["namespace"]}
    return pod


@pytest.fixture(scope="module")
def started_siblings(cri_runtime):
    cri_runtime.run_pods(PODS, SIBLINGS)


@pytest.fixture(scope="module")
def verified(cri_runtime, image, started_siblings, tmp_path_factory):
    """The suite's pod, exactly as the Job has it, run to its end beside its siblings."""
    pod = the_job()
    assert pod["spec"]["containers"][0]["image"] == image, "the manifest names another image"
    exit_code, document, output = run_node_pods(cri_runtime, {"job": pod}, tmp_path_factory)["job"]
    assert document is not None, f"the suite's pod exited {exit_code} with no results: {output}"
    return exit_code, document, output


def siblings(results: list[dict]) -> dict[tuple[str, str], str]:
    """Each sibling's verdicts by pod and property (the IDs in a target's name stay out)."""
    return {(r["target"].split(" (")[0], r["property"]): r["verdict"] for r in results
            if r["target"].startswith(f"cri://{SIBLINGS}/")}


def test_the_pod_verifies_its_siblings_as_a_run_on_the_node_does(cri_runtime, verified, tmp_path):
    exit_code, document, output = verified
    assert exit_code in (0, 1), output  # judged: a verdict may fail, nothing stopped the run
    on_node = run_suite(tmp_path, f"--iso-container=cri://*?socket={cri_runtime.socket}&namespace={SIBLINGS}",
                        timeout=300)
    expected = siblings(on_node.results)
    assert {target for target, _ in expected} == {f"cri://{SIBLINGS}/{pod}/app" for pod in PODS}, on_node.output
    assert siblings(document["results"]) == expected
    assert expected[(f"cri://{SIBLINGS}/confined/app", "seccomp")] == "pass"


def test_the_pod_reads_the_node_not_itself(verified):
    """Its host is the node: the node's name and kernel, and the suite's own pod judged as one."""
    _, document, _ = verified
    [host] = document["hosts"]
    assert host["host"] == "node://" and host["hostname"] == socket.gethostname()
    assert host["kernel"] == subprocess.run(["uname", "-r"], capture_output=True, text=True).stdout.strip()
    assert host["runtime"].startswith("containerd ")  # the CRI runtime, as it names itself
    assert document["started"]
    own = {r["property"]: r["verdict"] for r in document["results"]
           if r["target"].startswith("cri://isoverify/isoverify-")}
    assert own["pid"] == "fail" and own["caps"] == "fail", own  # hostPID and its added capabilities, said


def without(pod: dict, privilege: str) -> dict:
    """The Job's pod with one of the privileges it asks for taken back."""
    [container] = pod["spec"]["containers"]
    security = container["securityContext"]
    if privilege == "hostPID":
        del pod["spec"]["hostPID"]
    elif privilege == "seccomp":
        security["seccompProfile"] = {"type": "RuntimeDefault"}
    else:
        security["capabilities"]["add"].remove(privilege)
    return pod


def test_each_privilege_it_asks_for_is_needed(cri_runtime, image, started_siblings, tmp_path_factory):
    """Without any one of them, its siblings are no longer judged in full: the run stops, or
    verdicts of theirs become errors."""
    [container] = the_job()["spec"]["containers"]
    privileges = ["hostPID", "seccomp", *container["securityContext"]["capabilities"]["add"]]
    pods = {privilege.lower(): without(the_job(f"-{privilege.lower()}"), privilege) for privilege in privileges}
    for privilege, (exit_code, document, output) in run_node_pods(cri_runtime, pods, tmp_path_factory).items():
        judged = siblings(document["results"]) if document else {}
        unjudged = [key for key, verdict in judged.items() if verdict == "error"]
        assert exit_code == 6 or document is None or unjudged, (privilege, exit_code, judged, output)
