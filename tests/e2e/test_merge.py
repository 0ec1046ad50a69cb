"""`isoverify merge` on real runs' results, as a fleet's nodes would hand them in: two nodes
that judged the same container differently, one whose results are stale, one unreachable (its
run judged nothing), one that never reported. Every report of the merge says the same."""

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
import yaml
from trestle.oscal.assessment_results import AssessmentResults

from conftest import REPO, run_suite, start_canary

DATA = REPO / "tests" / "data"
NAME = "isoverify-selftest-merged"  # one container name, started on each "node" in turn


def as_node(document: dict, node: str, started: datetime | None = None) -> dict:
    """A run's results as the node `node` would have written them."""
    document = json.loads(json.dumps(document))
    document["hosts"][0]["hostname"] = node
    if started is not None:
        document["started"] = started.isoformat()
    return document


@pytest.fixture(scope="module")
def merged(docker_client, tmp_path_factory):
    directory = tmp_path_factory.mktemp("merge")
    inputs = directory / "nodes"
    inputs.mkdir()
    runs = {}
    for node, options in (("node1", {"pid_mode": "host"}), ("node2", {})):
        container = start_canary(docker_client, name=NAME, **options)
        try:
            runs[node] = run_suite(tmp_path_factory.mktemp(node), f"--iso-container=docker://{NAME}").document()
        finally:
            container.remove(force=True)
    (inputs / "node1.json").write_text(json.dumps(as_node(runs["node1"], "node1")))
    (inputs / "node2.json").write_text(json.dumps(as_node(runs["node2"], "node2")))
    stale = as_node(runs["node2"], "node3", datetime.now(UTC) - timedelta(days=3))
    (inputs / "node3.json").write_text(json.dumps(stale))
    unreachable = run_suite(tmp_path_factory.mktemp("node5"), "--iso-host=ssh://root@127.0.0.1:9",
                            f"--iso-container=docker://{NAME}")
    (inputs / "node5.json").write_text(json.dumps(unreachable.document()))
    reports = directory / "reports"
    done = subprocess.run([sys.executable, "-m", "isoverify.cli", "merge", "--nodes=node1,node2,node3,node4",
                           "--max-age=1d", f"--iso-report={reports / 'fleet.html'}",
                           f"--iso-json={reports / 'fleet.json'}", f"--junitxml={reports / 'fleet.xml'}",
                           f"--iso-oscal={reports / 'oscal.json'}", f"--iso-policy-report={reports / 'policy.yaml'}",
                           f"--iso-sarif={reports / 'fleet.sarif'}", str(inputs)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    return done, json.loads((reports / "fleet.json").read_text()), reports


def test_the_merge_exits_as_a_run_and_names_each_node(merged):
    done, document, _ = merged
    assert done.returncode == 1, done.stdout + done.stderr  # node1's container fails pid
    nodes = {n["node"]: n for n in document["fleet"]["nodes"]}
    assert sorted(nodes) == ["node1", "node2", "node3", "node4", "ssh://root@127.0.0.1:9"]
    assert nodes["node1"]["measured"] and nodes["node2"]["measured"]
    assert "older than" in nodes["node3"]["why"]
    assert "no results" in nodes["node4"]["why"]
    assert "judged nothing" in nodes["ssh://root@127.0.0.1:9"]["why"]
    not_measured = {r["node"] for r in document["results"] if r["verdict"] == "error" and r["property"] == "measured"}
    assert not_measured == {"node3", "node4", "ssh://root@127.0.0.1:9"}


def test_the_same_container_judged_differently_is_named(merged):
    _, document, _ = merged
    pid = [d for d in document["fleet"]["divergence"] if d["property"] == "pid"]
    assert pid == [{"template": f"docker://{NAME}", "property": "pid",
                    "verdicts": {"fail": ["node1"], "pass": ["node2"]}}]


def test_junit_oscal_policy_reports_and_sarif_say_what_the_json_says(merged):
    _, document, reports = merged
    records = document["results"]
    cases = list(ET.parse(reports / "fleet.xml").getroot().iter("testcase"))
    verdicts = {(case.find("properties/property[@name='isoverify.target']").get("value"),
                 case.find("properties/property[@name='isoverify.property']").get("value")):
                case.find("properties/property[@name='isoverify.verdict']").get("value") for case in cases}
    assert verdicts == {(r["target"], r["property"]): r["verdict"] for r in records}
    assert sum(case.find("failure") is not None for case in cases) == sum(r["verdict"] == "fail" for r in records)
    assert sum(case.find("error") is not None for case in cases) == sum(r["verdict"] == "error" for r in records)
    oscal = AssessmentResults.oscal_read(reports / "oscal.json")  # validates, or raises
    [result] = oscal.results
    subjects = {item.description for item in result.local_definitions.inventory_items}
    assert {"Host node1", "Host node2"} <= subjects
    assert any(s.startswith(f"Container node1: docker://{NAME}") for s in subjects)
    expected = {(r["target"], r["property"]): r["verdict"] for r in records}
    words = {"pass": "pass", "fail": "fail", "warn": "advisory", "skip": "waived", "error": "error"}
    policy_reports = list(yaml.safe_load_all((reports / "policy.yaml").read_text()))
    for report in policy_reports:
        schema = DATA / f"wgpolicyk8s.io_v1alpha2_{report['kind'].lower()}s.schema.json"
        jsonschema.validate(report, json.loads(schema.read_text()))
    results = [result for report in policy_reports for result in report["results"]]
    assert {(r["properties"]["target"], r["rule"]): words[r["result"]] for r in results} == expected
    nodes = [r["resources"][0] for r in results if r["rule"] == "measured"]
    assert {(n["kind"], n["name"]) for n in nodes} == {("Node", "node3"), ("Node", "node4"),
                                                      ("Node", "ssh://root@127.0.0.1:9")}
    log = json.loads((reports / "fleet.sarif").read_text())
    jsonschema.validate(log, json.loads((DATA / "sarif-schema-2.1.0.json").read_text()))
    [sarif_run] = log["runs"]
    assert {(r["properties"]["target"], r["ruleId"]): r["properties"]["verdict"] for r in sarif_run["results"]} \
        == expected
    assert len(result.observations) == len(records)


def test_the_page_shows_the_nodes_first(merged, tmp_path):
    _, document, reports = merged
    page = (reports / "fleet.html").read_text()
    assert page.index('id="iso-nodes"') < page.index('id="iso-score"')
    assert "2 of 5 nodes measured" in page
    counts = Counter(r["verdict"] for r in document["results"])
    for word, label in (("fail", "fail verdicts"), ("error", "error verdicts"), ("advisory", "advisory verdicts"),
                        ("pass", "passes")):
        assert re.search(rf"<b>{counts[word]}</b>{label}<", page), (word, counts[word])
    assert "Judged differently on different nodes" in page
