"""The auditor's page, rendered in a real browser (headless Chromium)."""

import json
import os
import re
import shutil
import time
import xml.etree.ElementTree as ET

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from isoverify.report import baseline, oscal, page

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
    browser.find_element(By.ID, "iso-summary")
    return browser


def wait_for(browser, condition: str) -> None:
    """Until the page's script has done what `condition` (JavaScript) asks: it runs on events."""
    deadline = time.monotonic() + 10
    while not browser.execute_script(f"return {condition}"):
        assert time.monotonic() < deadline, f"never: {condition}"
        time.sleep(0.05)


def open_every_fold(browser) -> None:
    """Opens every fold of the page, as a reader clicking each: its script makes their content."""
    browser.execute_script("document.querySelectorAll('details.iso-more').forEach((fold) => { fold.open = true; })")
    wait_for(browser, "[...document.querySelectorAll('details.iso-more')].every((fold) => fold.dataset.filled)")


def test_report_shows_the_run_the_fleet_and_evidence_side_by_side(browser, canary, suite, tmp_path):
    container = canary(pid_mode="host")
    target = f"docker://{container.name}"
    run = suite(f"--iso-container={target}")
    page_ = open_report(browser, run)
    shot = tmp_path / "report.png"
    assert page_.save_screenshot(str(shot)) and shot.stat().st_size > 10_000

    assert "Profile baseline" in page_.find_element(By.ID, "iso-run").text
    hosts = page_.find_element(By.ID, "iso-hosts").find_elements(By.TAG_NAME, "tr")
    [host] = run.document()["hosts"]
    assert [cell.text for cell in hosts[1].find_elements(By.TAG_NAME, "td")] == \
        [host["host"], host["hostname"], host["kernel"], host["engine"], host["runtime"], str(host["round_trips"])]
    summary = page_.find_element(By.ID, "iso-summary").text
    counts = {word: sum(v == word for v in run.verdicts().values()) for word in ("fail", "advisory", "pass")}
    assert "1\ntargets" in summary and "0\nhold every enforced property" in summary
    assert f"{counts['fail']}\nfail verdicts" in summary and f"{counts['pass']}\npasses" in summary

    card = page_.find_element(By.CSS_SELECTOR, '#iso-fix article[data-property="pid"]')
    host_side, container_side = (side.text for side in card.find_elements(By.CSS_SELECTOR, ".iso-sides > div"))
    assert "$ readlink /proc/2/ns/pid" in host_side
    assert "$ ps, as the host reads" in container_side and "(on the host)" in container_side
    assert "HostConfig.PidMode: host" in container_side
    assert card.text.startswith("FAIL pid on " + target) and "CIS Docker Benchmark v1.6.0 5.16" in card.text

    # a pass: one row, its evidence made from the page's data only when it is opened
    [uts] = [r for r in run.results if r["property"] == "uts"]
    row = page_.find_element(By.XPATH, "//section[@class='iso-group']//tr[th='uts']")
    assert row.find_element(By.CLASS_NAME, "iso-word").text == "PASS"
    pieces = len(page_.find_elements(By.CLASS_NAME, "iso-evidence"))
    row.find_element(By.TAG_NAME, "summary").click()
    wait_for(page_, "document.querySelector('details.iso-more[data-filled]')")
    shown = " ".join(row.find_element(By.CLASS_NAME, "iso-detail").text.split())
    assert uts["summary"] in shown and all(" ".join(e["label"].split()) in shown for e in uts["evidence"]["host"])
    assert len(page_.find_elements(By.CLASS_NAME, "iso-evidence")) == pieces + sum(map(len, uts["evidence"].values()))


def test_hostile_container_output_stays_inert_text(browser, canary, suite, tmp_path):
    # Markup in its hostname, in a process name and in a file name in its /.
    script = ('hostname "$P" && touch "/$P" && printf "#!/bin/sh\\nsleep 100000\\n" > "/tmp/$P" && '
              'chmod +x "/tmp/$P" && "/tmp/$P" & exec sh')
    container = canary(cap_add=["SYS_ADMIN"], environment={"P": PAYLOAD}, command=["sh", "-c", script])
    run = suite(f"--iso-container=docker://{container.name}", f"--iso-oscal={tmp_path / 'oscal.json'}")
    evidence = "".join(e["text"] for r in run.results for side in r["evidence"].values() for e in side)
    assert evidence.count(PAYLOAD) >= 3, "the payload never reached the report"
    page_ = open_report(browser, run)
    open_every_fold(page_)
    assert page_.execute_script("return document.body.getAttribute('data-pwned')") is None
    assert page_.execute_script("return document.querySelectorAll('img').length") == 0
    shown = page_.execute_script("return document.body.innerText")
    assert shown.count(PAYLOAD) >= 3  # shown as the text it is
    assert PAYLOAD in page_.find_element(By.ID, "iso-fix").text  # drift quotes its hostname there
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


def test_every_field_of_the_auditors_page_stays_inert(browser, tmp_path):
    """Recorded-shape data with markup in every field, the guidance a check of the user's own
    may give, a doctored baseline and waiver included: every part of the page, its folds opened
    and its printed page header, rendered in Chromium, shows it as text."""
    waiver = {"property": PAYLOAD, "target": PAYLOAD, "container": PAYLOAD, "image": None, "label": PAYLOAD,
              "reason": PAYLOAD, "owner": PAYLOAD,
              "expires": PAYLOAD, "expired": False, "line": 1, "accept": [PAYLOAD]}
    record = {"target": PAYLOAD, "property": PAYLOAD, "title": PAYLOAD, "verdict": "fail", "enforced": True,
              "summary": PAYLOAD, "controls": [PAYLOAD, f"CIS Docker Benchmark v1.6.0 {PAYLOAD}",
                                               "CIS Docker Benchmark v1.6.0 5.16"],
              "findings": [PAYLOAD], "matching_waivers": [1], "waiver": waiver,
              "evidence": {"host": [{"label": PAYLOAD, "text": PAYLOAD}], "container": [{"label": PAYLOAD,
                                                                                         "text": "```\n" + PAYLOAD}]},
              "severity": PAYLOAD, "rationale": PAYLOAD, "remediation": {"action": PAYLOAD, "docker": PAYLOAD,
                                                                        PAYLOAD: PAYLOAD}}
    others = [{**record, "verdict": verdict, "property": f"{PAYLOAD}{verdict}", "enforced": verdict != "advisory",
               "evidence": {"host": [{"label": PAYLOAD, "text": f"{PAYLOAD}</script>"}], "container": []}}
              for verdict in ("pass", "advisory", "waived", "error")]
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"schema": "isoverify.results", "version": 1, "started": PAYLOAD, "results": [
        {"target": PAYLOAD, "property": PAYLOAD, "verdict": "pass"},
        {"target": PAYLOAD + "2", "property": PAYLOAD, "verdict": "pass"}]}))
    base = baseline.load(earlier)
    marked = baseline.mark([record, *others], base)
    meta = {"started": PAYLOAD + '"; } </style>' + PAYLOAD, "by": PAYLOAD, "command": PAYLOAD, "isoverify": PAYLOAD,
            "profile": PAYLOAD, "hosts": [{"host": PAYLOAD, "hostname": PAYLOAD}], "unmatched_waivers": [waiver],
            "baseline": baseline.summary(marked, base)}
    report = tmp_path / "isolation.html"
    page.write(report, marked, meta, {PAYLOAD: tmp_path / f"{PAYLOAD}.json"})
    browser.get(report.as_uri())
    open_every_fold(browser)
    assert browser.execute_script("return document.body.getAttribute('data-pwned')") is None
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    assert browser.execute_script("return document.querySelectorAll('style').length") == 2  # the page's, its header's
    assert browser.execute_script("return document.querySelectorAll('script').length") == 2  # its data, its own
    shown = browser.execute_script("return document.body.innerText")
    assert shown.count(PAYLOAD) >= 40, shown
    assert f"{PAYLOAD}</script>" in shown  # the data, whole, though it names the end of its script
    assert_markdown_inert(oscal.document([record], {
        "started": "2026-01-01T00:00:00+00:00", "by": PAYLOAD, "command": PAYLOAD, "isoverify": "0.1.0",
        "profile": "baseline", "hosts": [{"host": PAYLOAD, "hostname": PAYLOAD}]}).oscal_dict())
