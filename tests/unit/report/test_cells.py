"""The report's cells: what a target said is shown as text, never as markup."""

from isoverify.report.html import row_cells


def test_report_cells_escape_what_a_target_said():
    record = {"property": "uts", "title": "t", "target": "docker://x", "verdict": "fail",
              "controls": ["<i>c</i>"], "summary": "its hostname is <img src=x onerror=alert(1)>",
              "evidence": {"host": [{"label": "$ hostname", "text": "<script>alert(1)</script>"}],
                           "container": []}}
    html = "".join(row_cells(record, "fail"))
    assert "<script>" not in html and "<img" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
