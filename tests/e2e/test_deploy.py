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


def node_pod(job: dict, socket_path: str, results: Path) -> dict:
    """The Job's pod as its node's kubelet gets it: the host paths of the socket and of the
    results moved to the rig's, nothing else changed."""
    pod = job["spec"]["template"]
    pod["metadata"] = {**pod["metadata"], "name": job["metadata"]["name"], "namespace": job["metadata"]["namespace"]}
    moved = {"cri-socket": socket_path, "results": str(results)}
    for volume in pod["spec"]["volumes"]:
        volume["hostPath"]["path"] = moved[volume["name"]]
    return pod


@pytest.fixture(scope="module")
def verified(cri_runtime, image, tmp_path_factory):
    """The siblings started, then the suite's pod run to its end: its exit code and results."""
    for name, text in PODS.items():
        pod = yaml.safe_load(text)
        pod["metadata"] = {"name": name, "namespace": SIBLINGS}
        cri_runtime.run_pod(pod)
    results = tmp_path_factory.mktemp("node-results")
    job = yaml.safe_load(JOB.read_text().replace("NODE_NAME_HERE", socket.gethostname()))
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == image, "the manifest names another image"
    running = cri_runtime.run_pod(node_pod(job, cri_runtime.socket, results))
    [container_id] = running.container_ids.values()
    with cri_runtime.client() as client:
        deadline = time.monotonic() + RUN_SECONDS
        while True:
            status = client.call("ContainerStatus", api.ContainerStatusRequest(container_id=container_id)).status
            if status.state == api.CONTAINER_EXITED or time.monotonic() > deadline:
                break
            time.sleep(1)
    log = cri_runtime.run_dir / "logs" / "isoverify" / "0.log"  # the stand-in's log path: NAME/0.log
    output = log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"
    assert status.state == api.CONTAINER_EXITED, f"the suite's pod still runs after {RUN_SECONDS} s: {output}"
    report = results / f"{socket.gethostname()}.json"
    assert report.exists(), f"the suite's pod exited {status.exit_code} with no results: {output}"
    return status.exit_code, json.loads(report.read_text()), output


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
