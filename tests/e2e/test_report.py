"""The HTML report, rendered in a real browser (headless Chromium)."""

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from isoverify.report import audit, baseline, oscal
from isoverify.report.html import STATUSES, row_cells

# Would set an attribute on <body> if the report ever let it become markup.
PAYLOAD = "<img src=x onerror=document.body.setAttribute('data-pwned',1)>"


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromedriver are missing: `sudo ci/setup.sh --selftest` installs them",
                        pytrace=False)
        pytest.skip("chromium and chromedriver are not installed (`sudo ci/setup.sh --selftest`)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1600,2400"):
        options.add_argument(flag)
    session = webdriver.Chrome(options=options, service=Service(driver))
    yield session
    session.quit()


def open_report(browser, run):
    browser.get((run.reports / "isolation.html").as_uri())
    browser.find_element(By.CSS_SELECTOR, "#results-table tbody")  # rendered by the report's script
    return browser


def test_report_shows_summary_matrix_and_evidence_side_by_side(browser, canary, suite, tmp_path):
    container = canary(pid_mode="host")
    target = f"docker://{container.name}"
    run = suite(f"--iso-container={target}")
    page = open_report(browser, run)
    shot = tmp_path / "report.png"
    assert page.save_screenshot(str(shot)) and shot.stat().st_size > 10_000

    assert "Profile baseline" in page.find_element(By.ID, "iso-run").text
    hosts = page.find_element(By.ID, "iso-hosts").find_elements(By.TAG_NAME, "tr")
    [host] = run.document()["hosts"]
    assert [cell.text for cell in hosts[1].find_elements(By.TAG_NAME, "td")] == \
        [host["host"], host["hostname"], host["kernel"], host["engine"], host["runtime"], str(host["round_trips"])]
    targets = page.find_element(By.ID, "iso-targets").find_elements(By.TAG_NAME, "tr")
    expected = [str(sum(v == status for v in run.verdicts().values())) for status in STATUSES]
    assert [row.text.split() for row in targets[1:]] == [[target, *expected]]
    matrix = page.find_element(By.ID, "iso-matrix")
    pid_row = next(row for row in matrix.find_elements(By.TAG_NAME, "tr") if row.text.startswith("pid "))
    assert pid_row.text == "pid fail"

    row = next(r for r in page.find_elements(By.CSS_SELECTOR, "#results-table tbody")
               if r.find_element(By.CLASS_NAME, "col-property").text.startswith("pid\n"))
    cells = row.find_elements(By.CSS_SELECTOR, "td.iso-side")
    host_side, container_side = cells[0].text, cells[1].text
    assert "$ readlink /proc/2/ns/pid" in host_side
    assert "$ ps, as the host reads" in container_side and "(on the host)" in container_side
    assert "HostConfig.PidMode: host" in container_side
    assert "FAIL" in row.find_element(By.CLASS_NAME, "col-verdict").text
    assert "CIS Docker Benchmark v1.6.0 5.16" in row.find_element(By.CLASS_NAME, "col-property").text


def test_hostile_container_output_stays_inert_text(browser, canary, suite, tmp_path):
    # Markup in its hostname, in a process name and in a file name in its /.
    script = ('hostname "$P" && touch "/$P" && printf "#!/bin/sh\\nsleep 100000\\n" > "/tmp/$P" && '
              'chmod +x "/tmp/$P" && "/tmp/$P" & exec sh')
    container = canary(cap_add=["SYS_ADMIN"], environment={"P": PAYLOAD}, command=["sh", "-c", script])
    run = suite(f"--iso-container=docker://{container.name}", f"--iso-oscal={tmp_path / 'oscal.json'}")
    evidence = "".join(e["text"] for r in run.results for side in r["evidence"].values() for e in side)
    assert evidence.count(PAYLOAD) >= 3, "the payload never reached the report"
    page = open_report(browser, run)
    assert page.execute_script("return document.body.getAttribute('data-pwned')") is None
    assert page.execute_script("return document.querySelectorAll('img[src=x]').length") == 0
    shown = page.execute_script("return document.body.textContent")
    assert PAYLOAD in shown  # shown as the text it is
    assert PAYLOAD in page.find_element(By.ID, "iso-fix").text  # drift quotes its hostname there
    assert_markdown_inert(json.loads((tmp_path / "oscal.json").read_text()))
    ids = [case.get("name") for case in ET.parse(run.reports / "isolation.xml").getroot().iter("testcase")]
    assert not any("<" in test_id for test_id in ids)


MARKUP_FIELDS = {"title", "description", "statement", "remarks"}  # OSCAL's Markdown; a prop's value is data


def markup(node):
    """The Markdown texts of an OSCAL document."""
    for key, child in node.items() if isinstance(node, dict) else enumerate(node):
        if key in MARKUP_FIELDS and isinstance(child, str):
            yield child
        elif isinstance(child, dict | list):
            yield from markup(child)


def assert_markdown_inert(document: dict) -> None:
    """Outside a code fence, no `<` that a Markdown renderer would take for markup."""
    texts = list(markup(document))
    assert any("\\<img" in t or PAYLOAD in t for t in texts), "the payload never reached the OSCAL document"
    for text in texts:
        outside = re.sub(r"(?s)^(`{3,})text\n.*?\n\1$", "", text, flags=re.MULTILINE)
        assert not re.search(r"(?<!\\)<", outside), text


def test_every_field_of_the_auditors_view_stays_inert(browser, tmp_path):
    """Recorded-shape data with markup in every field, the guidance a check of the user's own
    may give and a doctored baseline included: every part of the auditor's view, the results
    row and the printed page header, rendered in Chromium, shows it as text."""
    record = {"target": PAYLOAD, "property": PAYLOAD, "title": PAYLOAD, "verdict": "fail", "enforced": True,
              "summary": PAYLOAD, "controls": [PAYLOAD, f"CIS Docker Benchmark v1.6.0 {PAYLOAD}",
                                               "CIS Docker Benchmark v1.6.0 5.16"],
              "findings": [PAYLOAD], "matching_waivers": [1],
              "waiver": {"property": PAYLOAD, "target": PAYLOAD, "reason": PAYLOAD, "owner": PAYLOAD,
                         "expires": PAYLOAD, "expired": False, "line": 1, "accept": [PAYLOAD]},
              "evidence": {"host": [{"label": PAYLOAD, "text": PAYLOAD}], "container": [{"label": PAYLOAD,
                                                                                         "text": "```\n" + PAYLOAD}]},
              "severity": PAYLOAD, "rationale": PAYLOAD, "remediation": {"action": PAYLOAD, "docker": PAYLOAD,
                                                                        PAYLOAD: PAYLOAD}}
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"schema": "isoverify.results", "version": 1, "started": PAYLOAD, "results": [
        {"target": PAYLOAD, "property": PAYLOAD, "verdict": "pass"},
        {"target": PAYLOAD + "2", "property": PAYLOAD, "verdict": "pass"}]}))
    base = baseline.load(earlier)
    [marked] = baseline.mark([record], base)
    meta = {"started": PAYLOAD + '"; } </style>' + PAYLOAD, "by": PAYLOAD, "profile": PAYLOAD}
    page_html = "".join([
        audit.print_header(meta), audit.since_baseline([marked], baseline.summary([marked], base)),
        audit.score([marked]), audit.controls([marked]), audit.to_fix([marked]),
        "<table><tr>", *row_cells(marked, "fail"), "</tr></table>"])
    report = tmp_path / "parts.html"
    report.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{page_html}</body></html>")
    browser.get(report.as_uri())
    assert browser.execute_script("return document.body.getAttribute('data-pwned')") is None
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    assert browser.execute_script("return document.querySelectorAll('style').length") == 1
    shown = browser.execute_script("return document.body.innerText")
    assert shown.count(PAYLOAD) >= 20, shown
    assert_markdown_inert(oscal.document([marked], {
        "started": "2026-01-01T00:00:00+00:00", "by": PAYLOAD, "command": PAYLOAD, "isoverify": "0.1.0",
        "profile": "baseline", "hosts": [{"host": PAYLOAD, "hostname": PAYLOAD}]}).oscal_dict())
