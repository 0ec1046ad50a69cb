"""How the reports scale: 3, 100 and 1,000 containers, from one run and merged from many.

Run as root with the selftests set up (`ci/setup.sh --selftest`: Chromium and its driver):
    .venv/bin/python bench/report.py
It starts three real containers (a default one, one on the host's PID namespace, one with
SYS_ADMIN added) and verifies them once; their records, copied under new names as the selftests'
fleets are (tests/e2e/fleets.py: most like the default, the two broken ones and one never observed
among them),
stand for N containers. For each N it prints, measured in this one run: the time to write the
reports of one run (the auditor's page, JSON, JUnit; OSCAL apart), the page's size and DOM elements,
and a headless Chromium's time to load it and to print it (pages, A4); then the same for the
results of N/10 nodes merged by `isoverify merge` (its own time included). Goal: the
1,000-container page under 3 MB, loaded in under 3 s, its summary and failures printed in
under 30 pages. Nothing it starts outlives it.
"""

import base64
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from isoverify.report import junit, oscal, page
from isoverify.report.html import write_json

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from fleets import fleet  # noqa: E402 - the selftests' one definition of a fleet

SIZES = (3, 100, 1000)
NODE_SIZE = 10  # containers per node in the merged runs
LABEL = "io.isoverify.suite=selftest"


def real_records(directory: Path) -> tuple[list[dict], dict]:
    """Three real containers verified once: their records and the run's description."""
    names = [f"isoverify-bench-report-{n}" for n in range(3)]
    options = ([], ["--pid=host"], ["--cap-add=SYS_ADMIN"])
    try:
        for name, extra in zip(names, options):
            subprocess.run(["docker", "run", "-dit", f"--name={name}", f"--label={LABEL}", *extra, "busybox:latest"],
                           check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        f"--iso-json={directory}/r.json", f"--iso-report={directory}/r.html",
                        f"--html={directory}/log.html", f"--junitxml={directory}/r.xml",
                        *(f"--iso-container=docker://{n}" for n in names)],
                       cwd=REPO, capture_output=True, check=False)
    finally:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True)
    document = json.loads((directory / "r.json").read_text())
    return document.pop("results"), document


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def in_chromium(window: webdriver.Chrome, path: Path) -> dict:
    """Load and print the page: seconds to its load event, DOM elements, seconds and pages to print."""
    started = time.perf_counter()
    window.get(path.as_uri())
    window.execute_script("return document.readyState")
    loaded = time.perf_counter() - started
    elements = window.execute_script("return document.getElementsByTagName('*').length")
    started = time.perf_counter()
    pdf = window.execute_cdp_cmd("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69})["data"]
    printed = time.perf_counter() - started
    path.with_suffix(".pdf").write_bytes(base64.b64decode(pdf))
    pages = subprocess.run(["pdfinfo", str(path.with_suffix(".pdf"))], capture_output=True, text=True).stdout
    count = next((int(line.split()[-1]) for line in pages.splitlines() if line.startswith("Pages:")), -1)
    return {"load s": loaded, "DOM": elements, "print s": printed, "pages": count}


def one_run(directory: Path, records: list[dict], meta: dict) -> dict:
    started = time.perf_counter()
    page.write(directory / "isolation.html", records, meta)
    write_json(directory / "isolation.json", records, meta)
    junit.write(directory / "isolation.xml", records, meta)
    written = time.perf_counter() - started
    started = time.perf_counter()
    oscal.write(directory / "oscal.json", records, meta)
    return {"write s": written, "OSCAL s": time.perf_counter() - started,
            "MB": (directory / "isolation.html").stat().st_size / 1e6}


def merged_runs(directory: Path, records: list[dict], meta: dict) -> dict:
    """N/10 nodes' results, each as a run on that node writes it, merged by `isoverify merge`."""
    nodes = directory / "nodes"
    nodes.mkdir()
    targets = sorted({r["target"] for r in records}, key=lambda t: int(t.removeprefix("docker://sc")))
    for number in range(0, len(targets), NODE_SIZE):
        mine = set(targets[number:number + NODE_SIZE])
        node = {**meta, "hosts": [{**meta["hosts"][0], "hostname": f"node{number // NODE_SIZE + 1}"}]}
        write_json(nodes / f"node{number}.json", [r for r in records if r["target"] in mine], node)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "isoverify.cli", "merge", f"--iso-report={directory}/isolation.html",
                    f"--iso-json={directory}/isolation.json", f"--junitxml={directory}/isolation.xml", str(nodes)],
                   cwd=REPO, capture_output=True, check=False)
    return {"write s": time.perf_counter() - started, "OSCAL s": None,
            "MB": (directory / "isolation.html").stat().st_size / 1e6}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="isoverify-bench-") as scratch:
        root = Path(scratch)
        records, meta = real_records(root)
        window = browser()
        try:
            print(f"{'containers':>10} {'how':>7} {'write s':>8} {'OSCAL s':>8} {'MB':>6} {'load s':>7} {'DOM':>6} "
                  f"{'print s':>8} {'pages':>6}")
            for size in SIZES:
                copies = fleet(records, size)
                for how, make in (("one run", one_run), ("merged", merged_runs)):
                    if how == "merged" and size < NODE_SIZE:
                        continue
                    directory = root / f"{how.replace(' ', '-')}-{size}"
                    directory.mkdir()
                    figures = {**make(directory, copies, meta), **in_chromium(window, directory / "isolation.html")}
                    oscal_seconds = "-" if figures["OSCAL s"] is None else f"{figures['OSCAL s']:.2f}"
                    print(f"{size:>10} {how:>7} {figures['write s']:>8.2f} {oscal_seconds:>8} {figures['MB']:>6.2f} "
                          f"{figures['load s']:>7.2f} {figures['DOM']:>6} {figures['print s']:>8.2f} "
                          f"{figures['pages']:>6}")
        finally:
            window.quit()
    print("goal: at 1,000 containers, under 3 MB, loaded in under 3 s, printed in under 30 pages")


if __name__ == "__main__":
    main()
