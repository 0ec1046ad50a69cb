"""The auditor's page: rendered in headless Chromium and printed to PDF from a real run of a
default container, weakened ones and a waiver, and from that run's records copied under 60 and
1,000 names; the OSCAL document of the same run; a run compared with an earlier one."""

import base64
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from fleets import fleet
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select
from test_gate import waiver_toml
from test_report import browser, open_every_fold, open_report  # noqa: F401 - the browser fixture
from trestle.oscal.assessment_results import AssessmentResults

from conftest import run_suite, start_canary
from isoverify.judge.catalogue import CATALOGUE, judged_in
from isoverify.judge.frameworks import FRAMEWORKS
from isoverify.judge.guidance import GUIDANCE, RUNTIMES
from isoverify.judge.words import SEVERITIES
from isoverify.report import page as auditors_page
from isoverify.report.html import SCHEMA, natural

# What pytest and pytest-html call outcomes, and the marks of a traceback: none may be read.
PYTEST_WORDS = re.compile(r"XFail|XPass|Expected failures|Unexpected passes|Rerun|Retried|\bSkipped\b|"
                          r"\bPassed\b|\bFailed\b|\bErrors?\b|_pytest|Traceback|^E\s", re.MULTILINE)
WORST_FIRST = ["fail", "error", "waived", "advisory", "pass"]  # how the report combines verdicts
NOT_HOLDING = ("fail", "waived", "advisory")
FAILURE_RED = "207, 34, 46"  # the red of a failure, as Chromium gives a colour: rgba(207, 34, 46, 1)
A4, LETTER = (8.27, 11.69), (8.5, 11)  # inches


@pytest.fixture(scope="module")
def audited(docker_client, tmp_path_factory):
    """One run: a default container, two weakened ones, and a waiver for one of them."""
    directory = tmp_path_factory.mktemp("audit")
    containers = {name: start_canary(docker_client, **options) for name, options in (
        ("default", {}), ("pid", {"pid_mode": "host"}),
        ("broken", {"network_mode": "host", "cap_add": ["SYS_PTRACE", "SYS_ADMIN"]}))}
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
    assert {"net", "caps"} <= run.failed(targets["broken"])
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


def test_every_failure_shows_its_remediation_and_an_advisory_is_no_failure(audited, page):
    """A failure or a waived one has a card of its own; an advisory one card per property, its
    targets' summaries opened on demand; each with why it matters and what to change."""
    run, _ = audited
    open_every_fold(page)
    cards = {(c.get_attribute("data-target"), c.get_attribute("data-property")): c
             for c in page.find_elements(By.CSS_SELECTOR, "#iso-fix article[data-target]")}
    advisories = {c.find_element(By.TAG_NAME, "h4").text.split(":")[0]: c
                  for c in page.find_elements(By.CSS_SELECTOR, "#iso-fix article.iso-card-advisory")}
    broken = [r for r in run.results if r["verdict"] in NOT_HOLDING]
    assert set(cards) == {(r["target"], r["property"]) for r in broken if r["verdict"] != "advisory"}
    assert set(advisories) == {f"ADVISORY {r['property']}" for r in broken if r["verdict"] == "advisory"}
    for record in broken:
        card = cards.get((record["target"], record["property"])) or advisories[f"ADVISORY {record['property']}"]
        text = card.text
        assert record["verdict"].upper() in text and record["summary"] in text
        assert f"severity: {record['severity']}" in text and record["rationale"] in text
        for runtime, how in record["remediation"].items():
            assert how.replace("`", "") in text, (record["property"], runtime)
        red = FAILURE_RED in card.value_of_css_property("border-left-color")
        assert red == (record["verdict"] == "fail"), record["verdict"]


def test_rendered_report_speaks_in_verdicts_not_pytest_outcomes(audited, page):
    """Every verdict in its target's section, in the suite's words; no outcome, node ID or duration."""
    run, _ = audited
    open_every_fold(page)
    shown = page.execute_script("return document.body.innerText")
    assert not PYTEST_WORDS.findall(shown)
    assert "::" not in shown and "Duration" not in shown
    listed = {}
    for section in page.find_elements(By.CSS_SELECTOR, "section.iso-group"):
        for row in section.find_elements(By.CSS_SELECTOR, "tr[data-verdict]"):
            for target in section.get_attribute("data-targets").split("\n"):
                listed[(target, row.find_element(By.TAG_NAME, "th").text)] = row.find_element(By.CLASS_NAME,
                                                                                              "iso-word").text
    assert listed == {(r["target"], r["property"]): r["verdict"].upper() for r in run.results}


VISIBLE = "return [...document.querySelectorAll(arguments[0])].filter((shown) => !shown.closest('[hidden]'))"


def test_the_filters_show_a_verdict_a_target_a_control(audited, page):
    """Offline, on the page itself: unticking a verdict hides it; a target's name, or a control,
    leaves only what concerns it."""
    run, targets = audited
    open_report(page, run)
    rows = "section.iso-group tr[data-verdict]"
    page.find_element(By.CSS_SELECTOR, '#iso-filters input[value="pass"]').click()
    shown = page.execute_script(VISIBLE, rows)
    assert shown and {row.get_attribute("data-verdict") for row in shown} == {r["verdict"] for r in run.results} - {
        "pass"}
    page.find_element(By.CSS_SELECTOR, '#iso-filters input[value="pass"]').click()
    assert len(page.execute_script(VISIBLE, rows)) == len(run.results)  # each target its own group here

    broken = targets["broken"]
    page.find_element(By.ID, "iso-filter-target").send_keys(broken.removeprefix("docker://"))
    sections = page.execute_script(VISIBLE, "section.iso-group")
    assert [s.get_attribute("data-targets") for s in sections] == [broken]
    cards = page.execute_script(VISIBLE, "#iso-fix article[data-target]")
    assert {c.get_attribute("data-target") for c in cards} == {broken}
    advisories = {c.find_element(By.TAG_NAME, "h4").text.split(":")[0].split()[1]
                  for c in page.execute_script(VISIBLE, "#iso-fix article.iso-card-advisory")}
    assert advisories == {r["property"] for r in run.results if r["target"] == broken and r["verdict"] == "advisory"}
    page.find_element(By.ID, "iso-filter-target").send_keys(Keys.BACKSPACE * len(broken))
    assert len(page.execute_script(VISIBLE, "section.iso-group")) == len(targets)

    control = "CIS Docker Benchmark v1.6.0 5.16"
    Select(page.find_element(By.ID, "iso-filter-control")).select_by_value(control)
    assert [row.get_attribute("data-control") for row in page.execute_script(VISIBLE, "tr[data-control]")] == ["5.16"]
    cards = page.execute_script(VISIBLE, "#iso-fix article")
    assert cards and all(control in c.get_attribute("data-controls").split("\n") for c in cards)
    assert {row.find_element(By.TAG_NAME, "th").text for row in page.execute_script(VISIBLE, rows)} == {"pid"}


def test_score_counts_enforced_properties_held(audited, page):
    run, _ = audited
    rows = {row.find_element(By.TAG_NAME, "th").text: row.text
            for row in page.find_element(By.ID, "iso-score").find_elements(By.TAG_NAME, "tr")[1:]}
    for target in [*dict.fromkeys(r["target"] for r in run.results), "overall"]:
        mine = [r for r in run.results if r["enforced"] and target in (r["target"], "overall")]
        assert f"{sum(r['verdict'] == 'pass' for r in mine)} of {len(mine)}" in rows[target]


def pdf_text(window, pdf: Path, paper: tuple[float, float]) -> tuple[int, str]:
    """The page printed by Chromium to `pdf` (paper in inches, wide and high): its number of pages,
    and its text without each page's header and footer."""
    pdf.write_bytes(base64.b64decode(window.execute_cdp_cmd(
        "Page.printToPDF", {"paperWidth": paper[0], "paperHeight": paper[1]})["data"]))
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    text = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    lines = [line for line in text.splitlines() if not re.fullmatch(r"page \d+ of \d+", line.strip())
             and not line.startswith("Container isolation report, ")]
    return int(re.search(r"Pages:\s+(\d+)", info)[1]), "\n".join(lines)


def flat(text: str) -> str:
    """Text without its whitespace: what wraps in print is compared as what was written."""
    return "".join(text.split())


def assert_fits_and_prints_whole(window, records: list[dict], command: str, paper: tuple[float, float],
                                 most_pages: int, printed_to: Path) -> str:
    """Nothing wider than the window; printed, every failing verdict's evidence whole, in the suite's
    words only (the command as typed aside), in at most `most_pages` pages, each naming the run."""
    assert window.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    assert window.save_screenshot(str(printed_to.with_suffix(".png")))
    pages, text = pdf_text(window, printed_to, paper)
    printed = flat(text)
    for record in (r for r in records if r["verdict"] == "fail"):
        assert flat(f"{record['property']} on {record['target']}") in printed
        assert flat(record["remediation"]["action"]) in printed
        for piece in (piece for side in record["evidence"].values() for piece in side):
            assert flat(piece["label"]) in printed and flat(piece["text"]) in printed, (record["property"], piece)
    words = printed.replace(flat(command), "", 1)
    assert not [word for word in ("pytest", "Duration", "passed", "::") if word in words]
    assert not PYTEST_WORDS.findall(text)
    assert 1 < pages <= most_pages
    return text


def test_the_printed_report_holds_every_failure_whole_in_a_handful_of_pages(audited, page, tmp_path):
    run, _ = audited
    open_report(page, run)  # its folds closed, as it opens
    document = run.document()
    assert_fits_and_prints_whole(page, run.results, document["command"], A4, 12, tmp_path / "three.pdf")
    with_headers = page.execute_cdp_cmd("Page.printToPDF", {})["data"]
    headed = subprocess.run(["pdftotext", "-", "-"], input=base64.b64decode(with_headers), capture_output=True,
                            check=True).stdout.decode().split("\f")
    assert all(document["started"] in p for p in headed if p.strip())  # each page names the run



def test_a_fleet_of_alike_targets_is_one_small_page_that_prints_whole(audited, browser, tmp_path):  # noqa: F811
    """60 and 1,000 targets: the page grows with their names, not their verdicts; it fits the window
    and prints every failure whole (how fast it loads and prints: bench/report.py)."""
    run, _ = audited
    meta = {**{k: v for k, v in run.document().items() if k != "results"},
            "command": "isoverify --iso-container=docker://*"}
    elements = {}
    for size in (60, 1000):
        records = fleet(run.results, size)
        report = tmp_path / f"fleet{size}.html"
        auditors_page.write(report, records, meta)
        assert report.stat().st_size < 3_000_000
        browser.get(report.as_uri())
        elements[size] = browser.execute_script("return document.getElementsByTagName('*').length")
        score = browser.find_element(By.ID, "iso-score").text
        assert f"docker://sc1 and {size - 4} more alike" in score  # sc2, sc3 and the one unobserved apart
        text = assert_fits_and_prints_whole(browser, records, meta["command"], LETTER, 20, tmp_path / f"{size}.pdf")
        assert "the container stopped before it was read" in text  # an error, in full
    assert elements[1000] < elements[60] * 1.2, elements


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
    assert f"removed: {', '.join(p.id for p in judged_in('baseline'))} on {targets['gone']}" in after.output


def test_the_report_shows_what_changed_since_the_last_report(browser, compared):  # noqa: F811
    _, after, targets = compared
    page = open_report(browser, after)
    section = page.find_element(By.ID, "iso-changes")
    rows = sorted(row.text for row in section.find_elements(By.CSS_SELECTOR, "tr")[1:])
    assert rows == [f"fixed {targets['mended']} caps FAIL PASS", f"new {targets['worse']} pid PASS FAIL"]
    assert f"1 new, 1 fixed, {len(after.results) - 2} unchanged" in section.text
    assert targets["gone"] in section.text
    titles = [h.text for h in page.find_elements(By.TAG_NAME, "h2")]
    assert titles.index("Since the last report") < titles.index("Score, worst first")
    worse_pid = page.find_element(
        By.CSS_SELECTOR, f'#iso-fix article[data-target="{targets["worse"]}"][data-property="pid"]')
    assert "since the last report: new (was PASS)" in worse_pid.text
