"""OSCAL as a GRC tool reads it: advisories are observations only, a passing run is satisfied
for every control the profile enforces, and a waived failure is a deviation approved, not a pass.
Each document validates with trestle's models and with NIST's JSON schema."""

import json
import re
from pathlib import Path

import jsonschema
from jsonschema import validators
from trestle.oscal.assessment_results import AssessmentResults

from isoverify.report import oscal

NIST_SCHEMA = Path(__file__).parents[2] / "data" / "oscal_assessment-results_schema-1.0.6.json"
CIS = "CIS Docker Benchmark v1.6.0 "
META = {"started": "2026-12-04T10:00:00+00:00", "by": "root@ci", "command": "isoverify", "isoverify": "0.1.0",
        "profile": "baseline", "hosts": [{"host": "local://", "hostname": "ci"}]}
WAIVER = {"line": 3, "expires": "2027-01-31", "expired": False, "reason": "legacy agent", "owner": "ops",
          "accept": None, "property": "caps", "target": "*", "container": None, "image": None, "label": None}


def record(target: str, prop: str, verdict: str, enforced: bool, control: str, waiver=None) -> dict:
    return {"target": target, "property": prop, "title": f"the {prop} property", "verdict": verdict,
            "enforced": enforced, "summary": f"{prop} on {target}: {verdict}", "controls": [CIS + control],
            "severity": "high", "rationale": "why it matters", "remediation": {"action": "change it"},
            "evidence": {"host": [{"label": "$ cat /proc/1/status", "text": "CapEff: 0"}], "container": []},
            "waiver": waiver}


def nist_validator() -> jsonschema.Draft7Validator:
    """NIST's schema, its XML-style `\\p{L}` and `\\p{N}` read as Python's re reads letters and digits."""
    def pattern(validator, expected, instance, _schema):
        python = expected.replace(r"\p{L}", r"[^\W\d_]").replace(r"\p{N}", r"\d")
        assert r"\p" not in python, f"a pattern this test cannot read: {expected}"
        if validator.is_type(instance, "string") and not re.search(python, instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {expected!r}")
    checking = validators.extend(jsonschema.Draft7Validator, {"pattern": pattern})
    return checking(json.loads(NIST_SCHEMA.read_text()), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def written(records: list[dict], tmp_path: Path) -> dict:
    """The document as written, checked by trestle's models and NIST's schema."""
    path = tmp_path / "oscal.json"
    oscal.write(path, records, META)
    AssessmentResults.oscal_read(path)  # trestle's models: raises unless it validates
    document = json.loads(path.read_text())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in nist_validator().iter_errors(document)]
    assert not errors, errors
    return document["assessment-results"]["results"][0]


def states(result: dict) -> dict[tuple[str, str], str]:
    props = [{p["name"]: p["value"] for p in f["props"]} for f in result.get("findings", [])]
    return {(p["control"], p["target"]): f["target"]["status"]["state"]
            for p, f in zip(props, result.get("findings", []))}


def test_a_passing_run_is_satisfied_for_every_enforced_control_and_its_advisories_only_observed(tmp_path):
    records = [record("docker://a", "pid", "pass", True, "5.16"), record("docker://a", "caps", "pass", True, "5.4"),
               record("docker://a", "user", "advisory", False, "5.31"),
               record("docker://a", "lsm", "pass", False, "5.1")]
    result = written(records, tmp_path)
    assert states(result) == {(CIS + "5.16", "docker://a"): "satisfied", (CIS + "5.4", "docker://a"): "satisfied"}
    assert "risks" not in result
    assert len(result["observations"]) == 4  # the advisory and the unenforced pass too, as observations
    reviewed = result["reviewed-controls"]["control-selections"][0]["include-controls"]
    assert [c["control-id"] for c in reviewed] == ["cis-docker-5.16", "cis-docker-5.4"]


def test_a_waived_failure_is_a_deviation_approved_not_a_pass(tmp_path):
    records = [record("docker://a", "caps", "waived", True, "5.4", waiver=WAIVER),
               record("docker://b", "pid", "fail", True, "5.16"),
               record("docker://b", "caps", "error", True, "5.4"),
               record("docker://b", "user", "advisory", False, "5.31")]
    result = written(records, tmp_path)
    assert states(result) == {(CIS + "5.4", "docker://a"): "not-satisfied",  # the advisory's 5.31: no finding
                              (CIS + "5.16", "docker://b"): "not-satisfied",
                              (CIS + "5.4", "docker://b"): "not-satisfied"}
    findings = {f["title"]: f for f in result["findings"]}
    waived = findings[f"{CIS}5.4 on docker://a"]
    assert waived["target"]["status"]["reason"] == "fail"
    assert "deviation is approved" in waived["remarks"] and "legacy agent" in waived["remarks"]
    assert findings[f"{CIS}5.4 on docker://b"]["target"]["status"]["reason"] == "other"  # not judged
    risks = {r["title"]: r for r in result["risks"]}
    assert set(risks) == {"caps does not hold on docker://a", "pid does not hold on docker://b"}  # no advisory
    approved = risks["caps does not hold on docker://a"]
    assert approved["status"] == "deviation-approved"
    assert approved["deadline"].startswith("2027-01-31")
    [entry] = approved["risk-log"]["entries"]
    assert entry["status-change"] == "deviation-approved" and "line 3" in entry["description"]
    assert risks["pid does not hold on docker://b"]["status"] == "open"
    assert waived["related-risks"] == [{"risk-uuid": approved["uuid"]}]


def test_nist_schema_refuses_what_oscal_does_not_allow(tmp_path):
    result = written([record("docker://a", "pid", "fail", True, "5.16")], tmp_path)
    result["findings"][0]["target"]["status"]["state"] = "mostly-satisfied"
    document = {"assessment-results": {**json.loads((tmp_path / "oscal.json").read_text())["assessment-results"],
                                       "results": [result]}}
    assert [e.message for e in nist_validator().iter_errors(document)]
