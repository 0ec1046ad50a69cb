"""How verdicts are shown: the HTML report's parts, and the JSON results.

pytest-html 4 puts row cells, summary parts and environment values into the
page as HTML, unescaped, so every string here goes through `html.escape` at
the moment it becomes markup — including those the suite wrote itself, since
summaries quote what targets said.
"""

import json
import re
from collections import Counter
from html import escape
from pathlib import Path

from isoverify.judge.guidance import RUNTIMES
from isoverify.judge.waivers import selection
from isoverify.judge.words import PASS
from isoverify.judge.words import VERDICTS as STATUSES

JSON_SCHEMA_VERSION = 1
SCHEMA = Path(__file__).with_name("results.schema.json")
CSS = Path(__file__).with_name("report.css")

HEADER_CELLS = (
    '<th class="sortable" data-column-type="property">Property</th>',
    '<th class="sortable" data-column-type="target">Target</th>',
    '<th class="sortable" data-column-type="verdict">Verdict</th>',
    "<th>Host</th>",
    "<th>Container</th>",
)


def natural(text: str) -> tuple:
    """A sort key that orders the numbers in names by value: sc2 before sc10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def targets_of(records: list[dict]) -> list[str]:
    """The run's targets, each once, in natural order."""
    return sorted({r["target"] for r in records}, key=natural)


def evidence_html(evidence: list[dict]) -> str:
    return "".join(
        f'<div class="iso-evidence"><div class="iso-command">{escape(e["label"])}</div>'
        f'<pre>{escape(e["text"])}</pre></div>'
        for e in evidence
    )


def waiver_html(waiver: dict | None) -> str:
    if not waiver:
        return ""
    state = "expired" if waiver["expired"] else "until"
    accepts = f', accepts {", ".join(waiver["accept"])} only' if waiver["accept"] else ""
    return (f'<div class="iso-waiver">waiver at line {waiver["line"]} ({state} {escape(waiver["expires"])}'
            f'{escape(accepts)}): {escape(waiver["reason"])} — {escape(waiver["owner"])}</div>')


def row_cells(record: dict | None, outcome_verdict: str) -> list[str]:
    """The suite's cells for one row of the results table; a test without a record (one of the
    user's own) shows its outcome in the verdict words."""
    if record is None:
        return ['<td class="col-property"></td>', '<td class="col-target"></td>',
                f'<td class="col-verdict iso-{escape(outcome_verdict)}">{escape(outcome_verdict.upper())}</td>',
                "<td></td>", "<td></td>"]
    verdict = record["verdict"]
    controls = escape(", ".join(record["controls"]))
    return [
        f'<td class="col-property"><b>{escape(record["property"])}</b>'
        f'<div class="iso-title">{escape(record["title"])}</div>'
        f'<div class="iso-controls">{controls}</div></td>',
        f'<td class="col-target">{escape(record["target"])}</td>',
        f'<td class="col-verdict iso-{escape(verdict)}">{escape(verdict.upper())}'
        f'<div class="iso-summary">{escape(record["summary"])}</div>{waiver_html(record.get("waiver"))}'
        f'{change_html(record)}{guidance_html(record) if verdict != PASS else ""}</td>',
        f'<td class="iso-side">{evidence_html(record["evidence"]["host"])}</td>',
        f'<td class="iso-side">{evidence_html(record["evidence"]["container"])}</td>',
    ]


def code(text: str) -> str:
    """Text escaped, its `backquoted` parts shown as code (flags, keys, fields)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


def guidance_html(record: dict) -> str:
    """Why the property matters, how severe its failure is, and the fix in each runtime; a check
    of the user's own may give none of it."""
    remediation = record.get("remediation") or {}
    fixes = "".join(f"<li><b>{escape(RUNTIMES.get(runtime, runtime))}</b>: {code(how)}</li>"
                    for runtime, how in remediation.items() if runtime != "action")
    return (f'<div class="iso-guidance"><div class="iso-severity">severity: '
            f'{escape(record.get("severity") or "not given")}</div>'
            f'<div class="iso-rationale">why it matters: {escape(record.get("rationale") or "not given")}</div>'
            f'<div class="iso-remediation">to fix: {code(remediation.get("action") or "no remediation given")}'
            f'{f"<ul>{fixes}</ul>" if fixes else ""}</div></div>')


def guidance_properties(record: dict) -> list[tuple[str, str]]:
    """The JUnit properties of the guidance a record carries."""
    remediation = record.get("remediation") or {}
    fix = "; ".join(how if runtime == "action" else f"{RUNTIMES.get(runtime, runtime)}: {how}"
                    for runtime, how in remediation.items())
    return [(f"isoverify.{name}", value) for name, value in
            (("severity", record.get("severity")), ("rationale", record.get("rationale")), ("remediation", fix))
            if value]


def change_html(record: dict) -> str:
    """How the verdict compares with the baseline's, when one was given."""
    since = record.get("since_baseline")
    if not since:
        return ""
    was = f" (was {since['was'].upper()})" if since["was"] and since["change"] != "unchanged" else ""
    return (f'<div class="iso-change iso-change-{escape(since["change"])}">since the last report: '
            f'{escape(since["change"])}{escape(was)}</div>')


RUN_LABELS = {
    "started": "When (UTC)", "by": "By (user@machine)", "command": "Command line",
    "isoverify": "isoverify", "profile": "Profile",
}
HOST_FIELDS = ("host", "hostname", "kernel", "engine", "runtime", "round_trips")


def run_header(meta: dict) -> str:
    """When, by whom, where and how the run was made."""
    rows = "".join(f"<tr><th>{escape(RUN_LABELS.get(key, key))}</th><td>{escape(str(value))}</td></tr>"
                   for key, value in meta.items())
    return f'<h2>Run</h2><table id="iso-run" class="iso-table">{rows}</table>'


def hosts_table(hosts: list[dict]) -> str:
    """Where: each host as observed — its name, kernel, engine and runtime versions."""
    head = "".join(f"<th>{name}</th>" for name in HOST_FIELDS)
    rows = "".join("<tr>" + "".join(f"<td>{escape(str(host.get(name, 'not observed')))}</td>"
                                    for name in HOST_FIELDS) + "</tr>" for host in hosts)
    return f'<h2>Hosts</h2><table id="iso-hosts" class="iso-table"><tr>{head}</tr>{rows}</table>'


def targets_summary(records: list[dict]) -> str:
    """Per target: how many properties passed, failed, are advisory, waived, or errors."""
    counts: dict[str, Counter] = {target: Counter() for target in targets_of(records)}
    for record in records:
        counts[record["target"]][record["verdict"]] += 1
    head = "".join(f'<th class="iso-{s}">{s}</th>' for s in STATUSES)
    rows = "".join(
        f"<tr><th>{escape(target)}</th>" + "".join(f"<td>{count[s]}</td>" for s in STATUSES) + "</tr>"
        for target, count in counts.items())
    return (f'<h2>Targets</h2><table id="iso-targets" class="iso-table">'
            f"<tr><th>target</th>{head}</tr>{rows}</table>")


def matrix(records: list[dict], property_ids: list[str]) -> str:
    """Properties × targets at a glance."""
    targets = targets_of(records)
    found = {(r["property"], r["target"]): r["verdict"] for r in records}
    head = "".join(f"<th>{escape(t)}</th>" for t in targets)
    rows = []
    every = dict.fromkeys([*property_ids, *(r["property"] for r in records)])  # the catalogue's order first
    for prop in (p for p in every if any((p, t) in found for t in targets)):
        cells = "".join(
            f'<td class="iso-{escape(found.get((prop, t), "none"))}">{escape(found.get((prop, t), "—"))}</td>'
            for t in targets)
        rows.append(f"<tr><th>{escape(prop)}</th>{cells}</tr>")
    return (f'<h2>Properties × targets</h2><table id="iso-matrix" class="iso-table">'
            f"<tr><th>property</th>{head}</tr>{''.join(rows)}</table>")


def unmatched_waivers(waivers: list[dict]) -> str:
    if not waivers:
        return ""
    items = "".join(f"<li>line {w['line']}: {escape(w['property'])} on {escape(selection(w))} "
                    f"({escape(w['reason'])}; {escape(w['owner'])})</li>" for w in waivers)
    return f'<h2>Waivers that matched nothing</h2><ul id="iso-unmatched">{items}</ul>'


def write_json(path: Path, records: list[dict], meta: dict) -> None:
    """The machine-readable results: one record per target × property (see results.schema.json)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = json.dumps({"schema": "isoverify.results", "version": JSON_SCHEMA_VERSION, **meta},
                      indent=2, ensure_ascii=False)
    # one record a line, compact: what jq and grep read, and what the fast encoder writes
    rows = ",\n".join(json.dumps(record, ensure_ascii=False, separators=(",", ":")) for record in records)
    path.write_text(f'{head[:-2]},\n  "results": [\n{rows}\n]\n}}\n', encoding="utf-8")
