"""A pod that goes away between being chosen and being read: its container is an error of its
own, never a pass, and the pod beside it is judged as ever."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import LABEL_ARG, REPO
from isoverify.collect.cri import api_pb2 as api

NAMESPACE = "faults"
POD = "spec: {containers: [{name: app, image: busybox:latest, command: [sleep, '3600']}]}"


def test_a_pod_removed_mid_run_is_an_error_and_its_neighbour_is_judged(cri_runtime, tmp_path):
    pods = cri_runtime.run_pods({"going": POD, "staying": POD}, NAMESPACE)
    hold = tmp_path / "held"
    env = {**os.environ, "ISOVERIFY_HOLD_FILE": str(hold), "ISOVERIFY_HOLD_AT": "collected",
           "PYTHONPATH": os.pathsep.join([str(REPO / "tests" / "e2e" / "helpers"), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "hold", LABEL_ARG, f"--iso-json={tmp_path}/r.json",
                            f"--iso-report={tmp_path}/r.html", f"--html={tmp_path}/log.html",
                            f"--junitxml={tmp_path}/r.xml",
                            f"--iso-container=cri://*?socket={cri_runtime.socket}&namespace={NAMESPACE}"],
                           cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not hold.exists():
            assert run.poll() is None and time.monotonic() < deadline, "the run never reached the hold"
            time.sleep(0.05)
        with cri_runtime.client() as client:  # chosen, not yet read: the pod goes
            client.call("StopPodSandbox", api.StopPodSandboxRequest(pod_sandbox_id=pods["going"].sandbox_id))
            client.call("RemovePodSandbox", api.RemovePodSandboxRequest(pod_sandbox_id=pods["going"].sandbox_id))
        cri_runtime.sandbox_ids.remove(pods["going"].sandbox_id)  # gone already: nothing of it to check
        hold.unlink()
        output, _ = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
    results = json.loads(Path(tmp_path / "r.json").read_text())["results"]
    verdicts: dict[str, set[str]] = {}
    for record in results:
        verdicts.setdefault(record["target"].split(" (")[0], set()).add(record["verdict"])
    assert verdicts[f"cri://{NAMESPACE}/going/app"] == {"error"}, output
    assert "error" not in verdicts[f"cri://{NAMESPACE}/staying/app"], output
    assert run.returncode == 1, output  # the neighbour's failures outrank the error
