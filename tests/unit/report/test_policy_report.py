"""Policy Reports as Policy Reporter and kubectl read them: a pod's results in its namespace's
PolicyReport, the rest in the ClusterPolicyReport, every verdict one of the API's results, and
every document valid against the CRD's own schema."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from isoverify.judge.words import VERDICTS
from isoverify.report import policy_report

DATA = Path(__file__).parents[2] / "data"
SCHEMAS = {kind: json.loads((DATA / f"wgpolicyk8s.io_v1alpha2_{name}.schema.json").read_text())
           for kind, name in (("PolicyReport", "policyreports"), ("ClusterPolicyReport", "clusterpolicyreports"))}
CIS = "CIS Docker Benchmark v1.6.0 "
META = {"started": "2026-12-04T10:00:00.250000+00:00", "by": "root@ci", "command": "isoverify",
        "isoverify": "0.1.0", "profile": "baseline", "hosts": [{"host": "local://", "hostname": "node-1"}]}
WAIVER = {"line": 3, "expires": "2027-01-31", "expired": False, "reason": "legacy agent", "owner": "ops",
          "accept": None, "property": "caps", "target": "*", "container": None, "image": None, "label": None}
POD = {"namespace": "shop", "name": "web-0", "uid": "0b5e-uid", "container": "app", "init": False}


def record(target: str, prop: str, verdict: str, enforced: bool = True, pod=None, waiver=None,
           engine: str = "docker", summary: str | None = None) -> dict:
    return {"target": target, "property": prop, "title": f"the {prop} property", "verdict": verdict,
            "enforced": enforced, "summary": summary or f"{prop} on {target}: {verdict}",
            "controls": [CIS + "5.16"], "findings": [], "severity": "high", "rationale": "why",
            "remediation": {"action": "change it"}, "evidence": {"host": [], "container": []},
            "waiver": waiver, "engine": engine, **({"pod": pod} if pod else {})}


def written(records: list[dict], tmp_path: Path) -> list[dict]:
    """The documents as written, each valid against its CRD's schema."""
    path = tmp_path / "policy-report.yaml"
    policy_report.write(path, records, META)
    documents = list(yaml.safe_load_all(path.read_text()))
    for document in documents:
        assert document["apiVersion"] == "wgpolicyk8s.io/v1alpha2"
        jsonschema.Draft7Validator(SCHEMAS[document["kind"]]).validate(document)
    return documents


@pytest.mark.parametrize("verdict, expected", [("pass", "pass"), ("fail", "fail"), ("advisory", "warn"),
                                               ("waived", "skip"), ("error", "error")])
def test_every_verdict_is_one_of_the_apis_results(tmp_path, verdict, expected):
    waiver = WAIVER if verdict == "waived" else None
    [cluster] = written([record("docker://a", "caps", verdict, enforced=verdict != "advisory", waiver=waiver)],
                        tmp_path)
    [found] = cluster["results"]
    assert (found["result"], found["rule"], found["policy"], found["source"]) == (expected, "caps", "isoverify",
                                                                                 "isoverify")
    assert found["scored"] is (verdict != "advisory")
    assert cluster["summary"][expected] == 1 and sum(cluster["summary"].values()) == 1
    assert found["properties"]["verdict"] == verdict


def test_the_mapping_covers_every_verdict():
    assert set(policy_report.RESULTS) == set(VERDICTS)


def test_a_pods_results_land_in_its_namespaces_report_and_the_rest_in_the_cluster_report(tmp_path):
    init = {**POD, "name": "db-0", "namespace": "data", "container": "migrate", "init": True}
    records = [record("cri://shop/web-0/app (pod 0b5e-uid, abc)", "pid", "fail", pod=POD, engine="cri"),
               record("cri://data/db-0/migrate (pod x, def)", "pid", "pass", pod=init, engine="cri"),
               record("docker://a", "pid", "pass"), record("pid://42", "pid", "pass", engine="pid")]
    data, shop, cluster = written(records, tmp_path)
    assert (data["kind"], data["metadata"]["namespace"]) == ("PolicyReport", "data")
    assert (shop["kind"], shop["metadata"]["namespace"]) == ("PolicyReport", "shop")
    assert cluster["kind"] == "ClusterPolicyReport" and "namespace" not in cluster["metadata"]
    assert shop["results"][0]["resources"] == [{"apiVersion": "v1", "kind": "Pod", "namespace": "shop",
                                                "name": "web-0", "uid": "0b5e-uid",
                                                "fieldPath": "spec.containers{app}"}]
    assert data["results"][0]["resources"][0]["fieldPath"] == "spec.initContainers{migrate}"
    assert [r["resources"][0] for r in cluster["results"]] == [{"kind": "Container", "name": "docker://a"},
                                                              {"kind": "Process", "name": "pid://42"}]
    assert shop["summary"]["fail"] == 1 and cluster["summary"]["pass"] == 2
    assert {r["properties"]["node"] for d in (data, shop, cluster) for r in d["results"]} == {"node-1"}


def test_a_waived_failure_says_its_waiver(tmp_path):
    [cluster] = written([record("docker://a", "caps", "waived", waiver=WAIVER)], tmp_path)
    [found] = cluster["results"]
    assert "legacy agent" in found["message"] and "2027-01-31" in found["message"]
    assert found["properties"]["waiver.reason"] == "legacy agent" and found["properties"]["waiver.line"] == "3"
    assert found["severity"] == "high" and found["category"] == "CIS Docker Benchmark v1.6.0"
    assert found["timestamp"] == {"seconds": 1796378400, "nanos": 250000000}


def test_what_a_target_said_stays_data(tmp_path):
    hostile = "x\n---\n!!python/object/apply:os.system ['id']\nkind: ClusterRole {{0}} & *anchor"
    pod = {**POD, "name": "web: [0]", "namespace": "a'b", "container": "c}\"d"}
    records = [record("cri://x", "pid", "fail", pod=pod, engine="cri", summary=hostile),
               record(hostile, "caps", "fail", summary="y" * 5000)]
    shop, cluster = written(records, tmp_path)
    assert shop["metadata"]["namespace"] == "a'b" and shop["results"][0]["resources"][0]["name"] == "web: [0]"
    assert shop["results"][0]["message"] == " ".join(hostile.split())
    assert cluster["results"][0]["resources"][0]["name"] == hostile
    assert len(cluster["results"][0]["message"]) <= 1001
    assert [d["kind"] for d in (shop, cluster)] == ["PolicyReport", "ClusterPolicyReport"]


def test_the_schema_refuses_what_the_api_does_not_allow(tmp_path):
    [cluster] = written([record("docker://a", "caps", "advisory", enforced=False)], tmp_path)
    cluster["results"][0]["result"] = "advisory"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cluster, SCHEMAS["ClusterPolicyReport"])
