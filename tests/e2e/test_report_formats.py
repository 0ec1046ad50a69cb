"""The Policy Reports and the SARIF log of a real run say what its JSON says: the same verdict
for each target and property, in each format's words, and each file valid against the
format's own schema; a pod's results land in the PolicyReport of its namespace."""

import json
from pathlib import Path

import jsonschema
import yaml

DATA = Path(__file__).parents[1] / "data"
POLICY_SCHEMAS = {kind: json.loads((DATA / f"wgpolicyk8s.io_v1alpha2_{kind.lower()}s.schema.json").read_text())
                  for kind in ("PolicyReport", "ClusterPolicyReport")}
SARIF_SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
# each format's words for isoverify's verdicts, as its README section says
POLICY_RESULTS = {"pass": "pass", "fail": "fail", "advisory": "warn", "waived": "skip", "error": "error"}
SARIF_KINDS = {"pass": "pass", "fail": "fail", "advisory": "fail", "waived": "fail", "error": "open"}


def policy_reports(path: Path) -> list[dict]:
    documents = list(yaml.safe_load_all(path.read_text()))
    for document in documents:
        assert document["apiVersion"] == "wgpolicyk8s.io/v1alpha2"
        jsonschema.Draft7Validator(POLICY_SCHEMAS[document["kind"]]).validate(document)
    return documents


def sarif_results(path: Path) -> list[dict]:
    log = json.loads(path.read_text())
    jsonschema.Draft4Validator(SARIF_SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(log)
    [run] = log["runs"]
    return run["results"]


def test_both_formats_say_what_the_json_says_of_a_failing_container(canary, suite, tmp_path):
    host_pid = canary(pid_mode="host")
    done = suite(f"--iso-container=docker://{host_pid.name}", f"--iso-policy-report={tmp_path / 'policy.yaml'}",
                 f"--iso-sarif={tmp_path / 'isolation.sarif'}")
    assert done.exit_code == 1 and "pid" in done.failed(), done.output[-3000:]
    verdicts = {(r["target"], r["property"]): r["verdict"] for r in done.results}

    [cluster] = policy_reports(tmp_path / "policy.yaml")
    assert cluster["kind"] == "ClusterPolicyReport"
    said = {(r["properties"]["target"], r["rule"]): r["result"] for r in cluster["results"]}
    assert said == {case: POLICY_RESULTS[verdict] for case, verdict in verdicts.items()}
    assert {r["resources"][0]["kind"] for r in cluster["results"]} == {"Container"}
    assert cluster["summary"]["fail"] == sum(v == "fail" for v in verdicts.values())

    results = sarif_results(tmp_path / "isolation.sarif")
    said = {(r["properties"]["target"], r["ruleId"]): r["kind"] for r in results}
    assert said == {case: SARIF_KINDS[verdict] for case, verdict in verdicts.items()}
    assert {(r["properties"]["target"], r["ruleId"]): r["properties"]["verdict"] for r in results} == verdicts
    [pid] = [r for r in results if r["ruleId"] == "pid"]
    summary = next(r["summary"] for r in done.results if r["property"] == "pid")
    assert pid["level"] == "error" and pid["message"]["text"] == summary  # nothing in it to escape


def test_a_pods_results_land_in_its_namespaces_policy_report(cri_runtime, suite, tmp_path):
    pod = {"metadata": {"name": "host-pid", "namespace": "formats"},
           "spec": {"hostPID": True, "containers": [{"name": "app", "image": "busybox:latest",
                                                      "command": ["sleep", "3600"]}]}}
    running = cri_runtime.run_pod(pod)
    done = suite(f"--iso-container=cri://*?socket={cri_runtime.socket}&namespace=formats",
                 f"--iso-policy-report={tmp_path / 'policy.yaml'}", timeout=600)
    assert done.verdicts()["pid"] == "fail", done.output[-3000:]
    namespaced, cluster = policy_reports(tmp_path / "policy.yaml")
    assert (namespaced["kind"], namespaced["metadata"]["namespace"]) == ("PolicyReport", "formats")
    assert cluster["results"] == []
    assert {json.dumps(r["resources"], sort_keys=True) for r in namespaced["results"]} == {json.dumps(
        [{"apiVersion": "v1", "kind": "Pod", "namespace": "formats", "name": "host-pid", "uid": running.uid,
          "fieldPath": "spec.containers{app}"}], sort_keys=True)}
    assert {r["rule"]: r["result"] for r in namespaced["results"]} == {
        prop: POLICY_RESULTS[verdict] for prop, verdict in done.verdicts().items()}
