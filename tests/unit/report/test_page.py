"""The auditor's page, from hand-made records: what a target said stays text, targets are in
natural order but in the score (worst first), targets alike are shown together, the details
of what holds are data opened on demand, and pytest's words are nowhere."""

import json
import re
from html import escape, unescape
from pathlib import Path

from isoverify.report import page
from isoverify.report.html import natural

PAYLOAD = "<img src=x onerror=alert(1)></script><script>alert(2)</script>"
META = {"started": "2026-12-04T10:00:00+00:00", "by": "root@ci-7", "command": "isoverify --iso-container=docker://*",
        "isoverify": "0.1.0", "profile": "baseline", "unmatched_waivers": [],
        "hosts": [{"host": "local://", "hostname": "ci-7", "kernel": "6.1", "engine": "docker 24", "runtime": "runc"}]}


def record(target: str, prop: str, verdict: str, enforced: bool = True, text: str = "") -> dict:
    return {"target": target, "property": prop, "title": f"{prop} is its own", "verdict": verdict,
            "enforced": enforced, "summary": f"{prop} on {target}", "controls": ["CIS Docker Benchmark v1.6.0 5.16"],
            "waiver": None, "severity": "high", "rationale": "why", "remediation": {"action": "fix it"},
            "evidence": {"host": [{"label": "$ readlink /proc/1/ns/pid", "text": text or f"host of {target}"}],
                         "container": [{"label": "$ ps", "text": f"{prop} evidence of {target}"}]}}


def run(verdicts: dict[str, dict[str, str]]) -> list[dict]:
    return [record(target, prop, verdict, enforced=verdict != "advisory")
            for target, by_prop in verdicts.items() for prop, verdict in by_prop.items()]


def written(tmp_path: Path, records: list[dict], meta: dict = META) -> str:
    path = tmp_path / "reports" / "isolation.html"
    page.write(path, records, meta, {"the developers' log": tmp_path / "reports" / "test-log.html"})
    return path.read_text()


def markup_and_data(html: str) -> tuple[str, dict]:
    """The page without its data, and the data its script opens on demand."""
    found = re.search(r'<script type="application/json" id="iso-data">(.*?)</script>', html, re.S)
    return html[:found.start()] + html[found.end():], json.loads(found[1])


def test_natural_order_reads_numbers_by_value():
    listed = ["docker://sc10", "docker://sc2", "docker://sc1", "docker://db", "pid://100", "pid://20"]
    assert sorted(listed, key=natural) == ["docker://db", "docker://sc1", "docker://sc2", "docker://sc10",
                                           "pid://20", "pid://100"]


def test_every_string_of_a_target_is_escaped_and_the_data_cannot_end_its_script(tmp_path):
    records = [record(PAYLOAD, PAYLOAD, "fail", text=PAYLOAD), record(PAYLOAD, "pid", "pass", text=PAYLOAD),
               record("docker://b", "pid", "advisory", enforced=False, text=PAYLOAD)]
    for r in records:
        r.update(title=PAYLOAD, summary=PAYLOAD, controls=[PAYLOAD], rationale=PAYLOAD,
                 remediation={"action": PAYLOAD, "docker": PAYLOAD, PAYLOAD: PAYLOAD})
    html = written(tmp_path, records, {**META, "by": PAYLOAD, "command": PAYLOAD, "started": PAYLOAD})
    assert "<img" not in html and "alert(2)</script>" not in html
    assert html.count("<script") == html.count("</script>") == 2  # the data's, and the page's own
    markup, data = markup_and_data(html)
    assert markup.count("&lt;img src=x") >= 10
    assert {d["evidence"]["host"][0]["text"] for d in data.values()} == {PAYLOAD}  # read back whole


def test_targets_are_in_natural_order_and_the_score_worst_first(tmp_path):
    records = run({
        "docker://sc1": {"pid": "pass", "caps": "pass"},
        "docker://sc2": {"pid": "pass", "caps": "advisory"},
        "docker://sc3": {"pid": "fail", "caps": "pass"},
        "docker://sc10": {"pid": "error", "caps": "pass"},
        "docker://sc11": {"pid": "fail", "caps": "fail"},
        "docker://sc12": {"pid": "pass", "caps": "pass"},
    })
    html = written(tmp_path, records)
    score = html[html.index('id="iso-score"'):html.index("</table>", html.index('id="iso-score"'))]
    assert re.findall(r'<a href="#group-\d+">([^<]*)</a>', score) == [
        "docker://sc11", "docker://sc3", "docker://sc10", "docker://sc2", "docker://sc1 and 1 more alike"]
    sections = re.findall(r'<section class="iso-group" id="group-\d+" data-targets="([^"]*)"', html)
    assert [unescape(s).split("\n") for s in sections] == [
        ["docker://sc1", "docker://sc12"], ["docker://sc2"], ["docker://sc3"], ["docker://sc10"], ["docker://sc11"]]
    fix = html[html.index('id="iso-fix-fail"'):]
    assert re.findall(r'data-target="([^"]*)"', fix)[:3] == ["docker://sc3", "docker://sc11", "docker://sc11"]


def test_what_to_fix_lists_failures_then_waived_then_advisories_then_errors(tmp_path):
    records = run({"docker://a": {"pid": "advisory", "caps": "waived", "net": "fail", "uts": "error"}})
    html = written(tmp_path, records)
    cards = re.findall(r'<article class="iso-card iso-card-(\w+)"', html)
    assert cards == ["fail", "waived", "advisory", "error"]


def test_targets_alike_are_one_section_and_passing_details_are_data_only(tmp_path):
    """The page grows with the names of passing targets, not with their verdicts or evidence."""
    def fleet(size: int) -> list[dict]:
        alike = {f"docker://web{n}": {"pid": "pass", "caps": "advisory", "net": "pass"} for n in range(size)}
        return run({**alike, "docker://broken": {"pid": "fail", "caps": "advisory", "net": "pass"}})

    small, large = written(tmp_path / "small", fleet(10)), written(tmp_path / "large", fleet(1000))
    markup, data = markup_and_data(large)
    assert markup.count("<section class=\"iso-group\"") == 2
    assert markup.count("<tr") == markup_and_data(small)[0].count("<tr")
    assert "pid evidence of docker://broken" in markup  # a failure in full, with its evidence
    assert "pid evidence of docker://web7" not in markup and "pid evidence of docker://web7" in json.dumps(data)
    assert re.search(r'<details class="iso-more" data-records="[\d ]+"><summary>passes on 1000 targets', markup)
    assert markup.count("class=\"iso-card iso-card-advisory\"") == 1  # one card per property, not per target
    assert len(large) < 3_000_000


def test_details_beyond_the_pages_budget_are_left_to_the_json(tmp_path, monkeypatch):
    monkeypatch.setattr(page, "DETAILS_BUDGET", 2_000)
    records = run({f"docker://sc{n}": {"pid": "pass"} for n in range(1, 40)})
    markup, data = markup_and_data(written(tmp_path, records))
    kept = {records[int(n)]["target"] for n in data}
    assert "docker://sc1" in kept and 0 < len(kept) < 39  # the first target of its group first
    assert f"The details of {39 - len(kept)} verdicts that are passes, advisories or waived failures are not" in markup


def test_the_page_speaks_the_suites_words_only(tmp_path):
    records = run({"docker://a": {"pid": "fail", "caps": "pass", "net": "advisory", "uts": "waived"}})
    markup, _ = markup_and_data(written(tmp_path, records))
    text = unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)>.*?</\1>", " ", markup, flags=re.S)))
    for word in ("pytest", "Duration", "passed", "::", "Traceback", "outcome"):
        assert word not in text, word
    assert 'href="test-log.html"' in markup  # the developers' log, beside the page


def test_a_merges_nodes_come_first_and_what_they_said_stays_text(tmp_path):
    fleet = {"nodes": [{"node": "node1", "measured": True, "started": "2026-12-04T09:00:00+00:00", "source": "n1.json",
                        "kernel": PAYLOAD, "runtime": "containerd 1.7", "targets": 1},
                       {"node": PAYLOAD, "measured": False, "why": f"its results ({PAYLOAD}) judged nothing"}],
             "superseded": [PAYLOAD], "versions": {"kernel": {PAYLOAD: ["node1"], "6.8": ["node2"]}},
             "divergence": [{"template": PAYLOAD, "property": "pid",
                             "verdicts": {"fail": ["node1"], "pass": ["node2"]}}]}
    html = written(tmp_path, run({"node1: docker://a": {"pid": "fail"}}), {**META, "fleet": fleet})
    markup, _ = markup_and_data(html)
    assert "<img" not in markup and "alert(2)</script>" not in markup
    assert markup.index('id="iso-nodes"') < markup.index('id="iso-score"')
    assert "1 of 2 nodes measured" in markup
    assert markup.count(escape(PAYLOAD)) >= 4  # node, kernel, why, template: shown, as text
    assert "Judged differently on different nodes" in markup
