"""Targets are listed in natural order (sc2 before sc10), and the score worst first."""

import re

from isoverify.report import audit
from isoverify.report.html import matrix, natural, targets_summary


def record(target: str, prop: str, verdict: str, enforced: bool = True) -> dict:
    return {"target": target, "property": prop, "title": prop, "verdict": verdict, "enforced": enforced,
            "summary": f"{prop} on {target}", "controls": ["CIS Docker Benchmark v1.6.0 5.16"],
            "evidence": {"host": [], "container": []}}


def run(verdicts: dict[str, dict[str, str]]) -> list[dict]:
    return [record(target, prop, verdict) for target, by_prop in verdicts.items() for prop, verdict in by_prop.items()]


def test_natural_order_reads_numbers_by_value():
    listed = ["docker://sc10", "docker://sc2", "docker://sc1", "docker://db", "pid://100", "pid://20"]
    assert sorted(listed, key=natural) == ["docker://db", "docker://sc1", "docker://sc2", "docker://sc10",
                                           "pid://20", "pid://100"]


def test_targets_matrix_and_controls_list_targets_in_natural_order():
    records = run({f"docker://sc{n}": {"pid": "pass"} for n in (10, 2, 1)})
    expected = ["docker://sc1", "docker://sc2", "docker://sc10"]
    assert re.findall(r"<tr><th>(docker://[^<]*)</th>", targets_summary(records)) == expected
    assert re.findall(r"<th>(docker://[^<]*)</th>", matrix(records, ["pid"])) == expected
    assert re.findall(r"<th>(docker://[^<]*)</th>", audit.controls(records)) == expected * 3  # one table each


def test_score_lists_the_worst_target_first_and_overall_last():
    records = run({
        "docker://sc1": {"pid": "pass", "caps": "pass"},
        "docker://sc2": {"pid": "pass", "caps": "advisory"},
        "docker://sc3": {"pid": "fail", "caps": "pass"},
        "docker://sc10": {"pid": "error", "caps": "pass"},
        "docker://sc11": {"pid": "fail", "caps": "fail"},
        "docker://sc12": {"pid": "pass", "caps": "pass"},
    })
    assert re.findall(r'<tr data-target="([^"]*)"', audit.score(records)) == [
        "docker://sc11", "docker://sc3", "docker://sc10", "docker://sc2", "docker://sc1", "docker://sc12", "overall"]


def test_what_to_fix_lists_targets_in_natural_order_within_a_verdict():
    records = run({f"docker://sc{n}": {"pid": "fail"} for n in (10, 2)})
    assert re.findall(r'data-target="([^"]*)"', audit.to_fix(records)) == ["docker://sc2", "docker://sc10"]
