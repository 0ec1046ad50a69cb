"""SARIF as a code scanning dashboard reads it: each property a rule, each verdict a result
whose kind and level say what SARIF 2.1.0 means by them, a waiver a suppression, the target
and its node logical locations; every log valid against OASIS's schema."""

import json
from pathlib import Path

import jsonschema
import pytest

from isoverify.judge.words import VERDICTS
from isoverify.report import sarif

from .test_policy_report import META, POD, WAIVER, record

SCHEMA = json.loads((Path(__file__).parents[2] / "data" / "sarif-schema-2.1.0.json").read_text())


def written(records: list[dict], tmp_path: Path) -> dict:
    """The run as written, valid against the SARIF 2.1.0 schema."""
    path = tmp_path / "isolation.sarif"
    sarif.write(path, records, META)
    log = json.loads(path.read_text())
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(log)
    assert log["version"] == "2.1.0"
    [run] = log["runs"]
    return run


@pytest.mark.parametrize("verdict, kind, level", [("pass", "pass", "none"), ("fail", "fail", "error"),
                                                  ("advisory", "fail", "note"), ("waived", "fail", "error"),
                                                  ("error", "open", "none")])
def test_every_verdict_is_a_kind_and_level_as_sarif_defines_them(tmp_path, verdict, kind, level):
    waiver = WAIVER if verdict == "waived" else None
    run = written([record("docker://a", "caps", verdict, enforced=verdict != "advisory", waiver=waiver)], tmp_path)
    [found] = run["results"]
    assert (found["ruleId"], found["ruleIndex"], found["kind"], found["level"]) == ("caps", 0, kind, level)
    assert found["properties"]["verdict"] == verdict
    assert ("suppressions" in found) is (verdict == "waived")
    assert run["invocations"][0]["executionSuccessful"] is (verdict != "error")


def test_the_mapping_covers_every_verdict():
    assert set(sarif.KINDS) == set(VERDICTS)


def test_each_property_is_one_rule_with_its_guidance(tmp_path):
    records = [record("docker://a", "caps", "fail"), record("docker://b", "caps", "pass"),
               {**record("docker://a", "pid", "fail"), "severity": "medium"}]
    run = written(records, tmp_path)
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("isoverify", "0.1.0")
    assert [r["id"] for r in driver["rules"]] == ["caps", "pid"]
    caps, pid = driver["rules"]
    assert caps["shortDescription"]["text"] == "the caps property"
    assert "why" in caps["help"]["text"] and "change it" in caps["help"]["text"]
    assert caps["properties"]["controls"] == ["CIS Docker Benchmark v1.6.0 5.16"]
    assert (caps["defaultConfiguration"]["level"], pid["defaultConfiguration"]["level"]) == ("error", "warning")
    assert [r["ruleIndex"] for r in run["results"]] == [0, 0, 1]
    assert run["results"][2]["level"] == "warning"


def test_a_waiver_is_an_accepted_external_suppression(tmp_path):
    [found] = written([record("docker://a", "caps", "waived", waiver=WAIVER)], tmp_path)["results"]
    [suppression] = found["suppressions"]
    assert (suppression["kind"], suppression["status"], suppression["justification"]) == (
        "external", "accepted", "legacy agent")
    assert suppression["properties"] == {"owner": "ops", "expires": "2027-01-31", "line": 3}


def test_the_target_and_its_node_are_logical_locations(tmp_path):
    records = [record("cri://shop/web-0/app (pod 0b5e-uid, abc)", "pid", "fail", pod=POD, engine="cri"),
               record("pid://42", "pid", "pass", engine="pid")]
    pod, process = written(records, tmp_path)["results"]
    assert pod["locations"][0]["logicalLocations"] == [
        {"name": "app", "fullyQualifiedName": "cri://shop/web-0/app (pod 0b5e-uid, abc)", "kind": "pod"},
        {"name": "node-1", "fullyQualifiedName": "local://", "kind": "node"}]
    assert pod["properties"]["pod"] == POD
    assert process["locations"][0]["logicalLocations"][0]["kind"] == "process"


def test_what_a_target_said_stays_plain_text(tmp_path):
    hostile = 'see [here](0) {0} \\ "quoted"\n<script> pid:[42]'
    [found] = written([record(hostile, "caps", "fail", summary=hostile + "z" * 5000)], tmp_path)["results"]
    message = found["message"]["text"]
    assert message.startswith('see [here\\](0) {{0}} \\ "quoted" <script> pid:[42]')  # no link, no placeholder
    assert len(message) < 1100
    assert found["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == hostile


def test_the_schema_refuses_what_sarif_does_not_allow(tmp_path):
    log = {"version": "2.1.0", "runs": [written([record("docker://a", "caps", "advisory", False)], tmp_path)]}
    log["runs"][0]["results"][0]["kind"] = "advisory"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(SCHEMA).validate(log)
