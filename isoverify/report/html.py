"""How verdicts are shown: the parts of the auditor's page (page.py) that show one verdict
or the run, and the JSON results.

Every string here goes through `html.escape` at the moment it becomes markup — including
those the suite wrote itself, since summaries quote what targets said.
"""

import json
import re
from html import escape
from pathlib import Path

from isoverify.judge.guidance import RUNTIMES
from isoverify.judge.waivers import selection

JSON_SCHEMA_VERSION = 1
SCHEMA = Path(__file__).with_name("results.schema.json")


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
    return f'<table id="iso-run" class="iso-table">{rows}</table>'


def hosts_table(hosts: list[dict]) -> str:
    """Where: each host as observed — its name, kernel, engine and runtime versions."""
    head = "".join(f"<th>{name}</th>" for name in HOST_FIELDS)
    rows = "".join("<tr>" + "".join(f"<td>{escape(str(host.get(name, 'not observed')))}</td>"
                                    for name in HOST_FIELDS) + "</tr>" for host in hosts)
    return f'<h3>Hosts</h3><table id="iso-hosts" class="iso-table"><tr>{head}</tr>{rows}</table>'


def unmatched_waivers(waivers: list[dict]) -> str:
    if not waivers:
        return ""
    items = "".join(f"<li>line {w['line']}: {escape(w['property'])} on {escape(selection(w))} "
                    f"({escape(w['reason'])}; {escape(w['owner'])})</li>" for w in waivers)
    return f'<ul id="iso-unmatched">{items}</ul>'


def write_json(path: Path, records: list[dict], meta: dict) -> None:
    """The machine-readable results: one record per target × property (see results.schema.json)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = json.dumps({"schema": "isoverify.results", "version": JSON_SCHEMA_VERSION, **meta},
                      indent=2, ensure_ascii=False)
    # one record a line, compact: what jq and grep read, and what the fast encoder writes
    rows = ",\n".join(json.dumps(record, ensure_ascii=False, separators=(",", ":")) for record in records)
    path.write_text(f'{head[:-2]},\n  "results": [\n{rows}\n]\n}}\n', encoding="utf-8")
