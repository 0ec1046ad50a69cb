"""The HTML report, rendered in a real browser (headless Chromium)."""

import os
import shutil
import xml.etree.ElementTree as ET

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from isoverify.report import STATUSES

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


def test_hostile_container_output_stays_inert_text(browser, canary, suite):
    # Markup in its hostname, in a process name and in a file name in its /.
    script = ('hostname "$P" && touch "/$P" && printf "#!/bin/sh\\nsleep 100000\\n" > "/tmp/$P" && '
              'chmod +x "/tmp/$P" && "/tmp/$P" & exec sh')
    container = canary(cap_add=["SYS_ADMIN"], environment={"P": PAYLOAD}, command=["sh", "-c", script])
    run = suite(f"--iso-container=docker://{container.name}")
    evidence = "".join(e["text"] for r in run.results for side in r["evidence"].values() for e in side)
    assert evidence.count(PAYLOAD) >= 3, "the payload never reached the report"
    page = open_report(browser, run)
    assert page.execute_script("return document.body.getAttribute('data-pwned')") is None
    assert page.execute_script("return document.querySelectorAll('img[src=x]').length") == 0
    shown = page.execute_script("return document.body.textContent")
    assert PAYLOAD in shown  # shown as the text it is
    ids = [case.get("name") for case in ET.parse(run.reports / "isolation.xml").getroot().iter("testcase")]
    assert not any("<" in test_id for test_id in ids)
