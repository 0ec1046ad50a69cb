"""The auditor's report: rendered in headless Chromium and printed to PDF from a real run of a
default container, weakened ones and a waiver; the OSCAL document of the same run; a run
compared with an earlier one."""

import json
import re
import subprocess
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from selenium.webdriver.common.by import By
from test_gate import waiver_toml
from test_report import browser, open_report  # noqa: F401 - the browser fixture
from trestle.oscal.assessment_results import AssessmentResults

from conftest import run_suite, start_canary
from isoverify.judge.catalogue import CATALOGUE
from isoverify.judge.frameworks import FRAMEWORKS
from isoverify.judge.guidance import GUIDANCE, RUNTIMES
from isoverify.judge.words import SEVERITIES
from isoverify.report.html import SCHEMA, natural

# What pytest and pytest-html call outcomes, and the marks of a traceback: none may be read.
PYTEST_WORDS = re.compile(r"XFail|XPass|Expected failures|Unexpected passes|Rerun|Retried|\bSkipped\b|"
                          r"\bPassed\b|\bFailed\b|\bErrors?\b|_pytest|Traceback|^E\s", re.MULTILINE)
WORST_FIRST = ["fail", "error", "waived", "advisory", "pass"]  # how the report combines verdicts


@pytest.fixture(scope="module")
def audited(docker_client, tmp_path_factory):
    """One run: a default container, three weakened ones, and a waiver for one of them."""
    directory = tmp_path_factory.mktemp("audit")
    containers = {name: start_canary(docker_client, **options) for name, options in (
        ("default", {}), ("pid", {"pid_mode": "host"}), ("net", {"network_mode": "host"}),
        ("ptrace", {"cap_add": ["SYS_PTRACE", "SYS_ADMIN"]}))}
    waivers = directory / "waivers.toml"
    waivers.write_text(waiver_toml("pid", container=containers["pid"].id))
    try:
        run = run_suite(directory, *(f"--iso-container=docker://{c.name}" for c in containers.values()),
                        f"--iso-waivers={waivers}", f"--iso-oscal={directory / 'oscal.json'}")
    finally:
        for container in containers.values():
            container.remove(force=True)
    assert run.exit_code == 1, run.output
    targets = {name: f"docker://{c.name}" for name, c in containers.items()}
    assert run.verdicts(targets["pid"])["pid"] == "waived" and run.failed(targets["default"]) == set()
    assert {"net", "caps"} <= run.failed(targets["net"]) | run.failed(targets["ptrace"])
    return run, targets


@pytest.fixture(scope="module")
def page(browser, audited):  # noqa: F811
    return open_report(browser, audited[0])


def test_every_property_has_its_guidance():
    for prop in CATALOGUE:
        guidance = GUIDANCE[prop.id]
        assert guidance.severity in SEVERITIES and guidance.rationale and guidance.action, prop.id
        assert set(guidance.remediation()) <= {"action", *RUNTIMES}, prop.id
    assert set(GUIDANCE) == {prop.id for prop in CATALOGUE}


def test_every_cited_control_is_an_item_of_its_framework():
    items = {framework.control(item) for framework in FRAMEWORKS for item, _ in framework.items}
    cited = {str(c) for prop in CATALOGUE for c in prop.controls if c.framework != "Kubernetes"}
    assert cited <= items, cited - items


def test_records_carry_guidance_in_json_and_junit(audited):
    run, _ = audited
    document = run.document()
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    junit = {(case.get("name"), p.get("name")): p.get("value")
             for case in ET.parse(run.reports / "isolation.xml").getroot().iter("testcase")
             for p in case.iter("property")}
    for record in run.results:
        guidance = GUIDANCE[record["property"]]
        assert (record["severity"], record["rationale"], record["remediation"]) == \
            (guidance.severity, guidance.rationale, guidance.remediation())
    names = {name for name, _ in junit}
    for name in names:
        assert junit[(name, "isoverify.severity")] in SEVERITIES
        assert GUIDANCE[junit[(name, "isoverify.property")]].action in junit[(name, "isoverify.remediation")]


def test_control_view_shows_each_cited_control_with_its_verdicts(audited, page):
    run, targets = audited
    columns = sorted({r["target"] for r in run.results}, key=natural)  # targets in natural order
    tables = {t.get_attribute("data-framework"): t for t in page.find_elements(By.CSS_SELECTOR, ".iso-framework")}
    for framework in FRAMEWORKS:
        head = tables[framework.name].find_elements(By.TAG_NAME, "tr")[0].text
        assert all(target in head for target in columns)
        rows = {row.get_attribute("data-control"): row
                for row in tables[framework.name].find_elements(By.CSS_SELECTOR, "tr[data-control]")}
        assert list(rows) == [item for item, _ in framework.items]
        for item, _ in framework.items:
            citing = [r for r in run.results if framework.control(item) in r["controls"]]
            cells = rows[item].find_elements(By.TAG_NAME, "td")[1:]
            if not citing:
                assert [cell.text for cell in cells] == ["not evidenced by this suite"], item
                continue
            for target, cell in zip(columns, cells, strict=True):
                here = [r for r in citing if r["target"] == target]
                expected = min((r["verdict"] for r in here), key=WORST_FIRST.index)
                assert cell.text.splitlines() == [expected.upper(), *(f"{r['property']} {r['verdict'].upper()}"
                                                                      for r in here)], (item, target)
    [other] = tables[""].find_elements(By.CSS_SELECTOR, "tr[data-control]")  # cited, no item of the three
    assert other.get_attribute("data-control") == "Kubernetes hostUsers"
    user = {r["target"]: r["verdict"].upper() for r in run.results if r["property"] == "user"}
    assert [cell.text.splitlines()[0] for cell in other.find_elements(By.TAG_NAME, "td")] == [user[t] for t in columns]
    pid_row = tables["CIS Docker Benchmark v1.6.0"].find_element(By.CSS_SELECTOR, 'tr[data-control="5.16"]')
    shown = [cell.text.splitlines()[0] for cell in pid_row.find_elements(By.TAG_NAME, "td")[1:]]
    assert shown[columns.index(targets["pid"])] == "WAIVED" and shown[columns.index(targets["default"])] == "PASS"


def test_every_failure_shows_its_remediation(audited, page):
    run, _ = audited
    blocks = {(b.get_attribute("data-target"), b.get_attribute("data-property")): b.text
              for b in page.find_elements(By.CSS_SELECTOR, "#iso-fix .iso-failure")}
    broken = [r for r in run.results if r["verdict"] in ("fail", "waived", "advisory")]
    assert set(blocks) == {(r["target"], r["property"]) for r in broken}
    for record in broken:
        text = blocks[(record["target"], record["property"])]
        assert record["verdict"].upper() in text and record["summary"] in text
        assert f"severity: {record['severity']}" in text and record["rationale"] in text
        for runtime, how in record["remediation"].items():
            assert how.replace("`", "") in text, (record["property"], runtime)
    rows = page.find_elements(By.CSS_SELECTOR, "#results-table tbody.results-table-row")
    failing = [row for row in rows if row.find_element(By.CLASS_NAME, "col-verdict").text.startswith("FAIL")]
    assert len(failing) == sum(r["verdict"] == "fail" for r in run.results)
    assert all("to fix:" in row.find_element(By.CLASS_NAME, "col-verdict").text for row in failing)


def test_rendered_report_speaks_in_verdicts_not_pytest_outcomes(audited, page):
    run, _ = audited
    shown = page.execute_script("return document.body.innerText")
    assert not PYTEST_WORDS.findall(shown)
    results = page.find_elements(By.CSS_SELECTOR, "#results-table tbody.results-table-row")
    assert len(results) == len(run.results)
    verdicts = sorted(row.find_element(By.CLASS_NAME, "col-verdict").text.split()[0] for row in results)
    assert verdicts == sorted(r["verdict"].upper() for r in run.results)


def test_score_counts_enforced_properties_held(audited, page):
    run, _ = audited
    rows = {row.find_element(By.TAG_NAME, "th").text: row.text
            for row in page.find_element(By.ID, "iso-score").find_elements(By.TAG_NAME, "tr")[1:]}
    for target in [*dict.fromkeys(r["target"] for r in run.results), "overall"]:
        mine = [r for r in run.results if r["enforced"] and target in (r["target"], "overall")]
        assert f"{sum(r['verdict'] == 'pass' for r in mine)} of {len(mine)}" in rows[target]


def test_printed_report_holds_every_failure_with_its_remediation(audited, page, tmp_path):
    run, _ = audited
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(__import__("base64").b64decode(page.print_page()))
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                           check=True).stdout.split("\f")
    text = " ".join(" ".join(pages).split())
    for record in run.results:
        if record["verdict"] in ("fail", "waived", "advisory"):
            assert f"{record['property']} on {record['target']}" in text
            assert " ".join(record["remediation"]["action"].split()) in text
    assert not PYTEST_WORDS.findall(" ".join(pages))
    started = run.document()["started"]
    headed = [p for p in pages if p.strip()]
    assert len(headed) > 3 and all(started in p for p in headed)  # each page names the run


def oscal_props(item) -> dict[str, str]:
    return {p.name: p.value for p in item.props or []}


def test_oscal_validates_and_its_findings_match_the_json_verdicts(audited):
    run, _ = audited
    results = AssessmentResults.oscal_read(run.reports / "oscal.json").results  # validates, or raises
    [result] = results
    observations = {o.uuid: oscal_props(o) for o in result.observations}
    assert sorted((o["target"], o["property"], o["verdict"]) for o in observations.values()) == \
        sorted((r["target"], r["property"], r["verdict"]) for r in run.results)
    expected = {}  # the controls the profile enforces: advisories are observations, nothing more
    for record in (r for r in run.results if r["enforced"]):
        for control in record["controls"]:
            expected.setdefault((control, record["target"]), []).append(record)
    found = {}
    for finding in result.findings:
        props = oscal_props(finding)
        found[(props["control"], props["target"])] = (finding, props)
    assert set(found) == set(expected)
    for key, records in expected.items():
        finding, props = found[key]
        verdict = min((r["verdict"] for r in records), key=WORST_FIRST.index)
        assert props["verdict"] == verdict
        assert finding.target.status.state.value == ("satisfied" if verdict == "pass" else "not-satisfied")
        related = [observations[o.observation_uuid] for o in finding.related_observations]
        assert sorted(o["property"] for o in related) == sorted(r["property"] for r in records)
    written = json.loads((run.reports / "oscal.json").read_text())["assessment-results"]["results"][0]
    risks = sorted(({p["name"]: p["value"] for p in r["props"]}["verdict"], r["status"]) for r in written["risks"])
    assert [verdict for verdict, _ in risks] == sorted(r["verdict"] for r in run.results
                                                       if r["enforced"] and r["verdict"] in ("fail", "waived"))
    assert {status for verdict, status in risks if verdict == "waived"} == {"deviation-approved"}
    subjects = {p.value for item in result.local_definitions.inventory_items for p in item.props
                if p.name == "target"}
    assert subjects == {r["target"] for r in run.results}


@pytest.fixture(scope="module")
def compared(docker_client, tmp_path_factory):
    """Two runs over the same names: one container recreated without its extra capability
    (fixed), one recreated with the host's PID namespace (new), a third not verified again."""
    before_dir, after_dir = tmp_path_factory.mktemp("before"), tmp_path_factory.mktemp("after")
    started = {"mended": start_canary(docker_client, cap_add=["SYS_PTRACE"]), "worse": start_canary(docker_client),
               "gone": start_canary(docker_client)}
    targets = {key: f"docker://{c.name}" for key, c in started.items()}
    try:
        before = run_suite(before_dir, *(f"--iso-container={t}" for t in targets.values()))
        for key, options in (("mended", {}), ("worse", {"pid_mode": "host"})):
            started[key].remove(force=True)
            started[key] = start_canary(docker_client, name=targets[key].removeprefix("docker://"), **options)
        after = run_suite(after_dir, f"--iso-container={targets['mended']}", f"--iso-container={targets['worse']}",
                          f"--iso-baseline={before_dir / 'isolation.json'}")
    finally:
        for container in started.values():
            container.remove(force=True)
    return before, after, targets


def test_a_baseline_run_marks_exactly_the_changed_verdicts(compared):
    before, after, targets = compared
    was = {(r["target"], r["property"]): r["verdict"] for r in before.results}
    changed = {(r["target"], r["property"]): r["since_baseline"]["change"]
               for r in after.results if r["verdict"] != was[(r["target"], r["property"])]}
    assert changed == {(targets["mended"], "caps"): "fixed", (targets["worse"], "pid"): "new"}
    for record in after.results:
        key = (record["target"], record["property"])
        assert record["since_baseline"] == {"change": changed.get(key, "unchanged"), "was": was[key]}
    document = after.document()
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    assert sorted((r["target"], r["property"], r["verdict"]) for r in document["baseline"]["removed"]) == \
        sorted((r["target"], r["property"], r["verdict"]) for r in before.results if r["target"] == targets["gone"])
    assert after.exit_code == 1  # the gate is the verdicts': pid fails on the worse one
    unchanged = len(after.results) - 2
    assert f"1 new, 1 fixed, {unchanged} unchanged" in after.output
    assert f"isoverify:   fixed: caps on {targets['mended']} is PASS (was FAIL)" in after.output
    assert f"isoverify:   new: pid on {targets['worse']} is FAIL (was PASS)" in after.output
    assert f"removed: {', '.join(p.id for p in CATALOGUE)} on {targets['gone']}" in after.output


def test_the_report_shows_what_changed_since_the_last_report(browser, compared):  # noqa: F811
    _, after, targets = compared
    page = open_report(browser, after)
    section = page.find_element(By.ID, "iso-changes")
    rows = sorted(row.text for row in section.find_elements(By.CSS_SELECTOR, "tr")[1:])
    assert rows == [f"fixed {targets['mended']} caps FAIL PASS", f"new {targets['worse']} pid PASS FAIL"]
    assert f"1 new, 1 fixed, {len(after.results) - 2} unchanged" in section.text
    assert targets["gone"] in section.text
    titles = [h.text for h in page.find_elements(By.TAG_NAME, "h2")]
    assert titles.index("Since the last report") < titles.index("Score")
    worse_pid = next(r for r in page.find_elements(By.CSS_SELECTOR, "#results-table tbody.results-table-row")
                     if r.find_element(By.CLASS_NAME, "col-target").text == targets["worse"]
                     and r.find_element(By.CLASS_NAME, "col-property").text.startswith("pid\n"))
    assert "since the last report: new (was PASS)" in worse_pid.find_element(By.CLASS_NAME, "col-verdict").text
