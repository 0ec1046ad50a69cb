"""How verdicts are shown: pytest-html cells and the JSON results.

pytest-html 4 puts row cells into the page as HTML, unescaped, so every
string here goes through `html.escape` at the moment it becomes markup —
including those the suite wrote itself, since summaries quote the target.
"""

import json
from html import escape
from pathlib import Path

JSON_SCHEMA_VERSION = 1
CSS = Path(__file__).with_name("report.css")

HEADER_CELLS = (
    '<th class="sortable" data-column-type="property">Property</th>',
    '<th class="sortable" data-column-type="target">Target</th>',
    '<th class="sortable" data-column-type="verdict">Verdict</th>',
    "<th>Host</th>",
    "<th>Container</th>",
)


def _evidence_html(evidence: list[dict]) -> str:
    return "".join(
        f'<div class="iso-evidence"><div class="iso-command">{escape(e["label"])}</div>'
        f'<pre>{escape(e["text"])}</pre></div>'
        for e in evidence
    )


def row_cells(record: dict | None) -> list[str]:
    """The suite's cells for one row of the results table."""
    if record is None:
        return ['<td class="col-property"></td>', '<td class="col-target"></td>',
                '<td class="col-verdict"></td>', "<td></td>", "<td></td>"]
    verdict = record["verdict"]
    controls = escape(", ".join(record["controls"]))
    return [
        f'<td class="col-property"><b>{escape(record["property"])}</b>'
        f'<div class="iso-title">{escape(record["title"])}</div>'
        f'<div class="iso-controls">{controls}</div></td>',
        f'<td class="col-target">{escape(record["target"])}</td>',
        f'<td class="col-verdict iso-{escape(verdict)}">{escape(verdict.upper())}'
        f'<div class="iso-summary">{escape(record["summary"])}</div></td>',
        f'<td class="iso-side">{_evidence_html(record["evidence"]["host"])}</td>',
        f'<td class="iso-side">{_evidence_html(record["evidence"]["container"])}</td>',
    ]


def write_json(path: Path, records: list[dict], meta: dict) -> None:
    """The machine-readable results: one record per target × property."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"schema": "isoverify.results", "version": JSON_SCHEMA_VERSION,
                **meta, "results": records}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
