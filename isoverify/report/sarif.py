"""The run as SARIF 2.1.0 (JSON), for the tools that read static analysis results (code
scanning dashboards, SARIF viewers): one run of the tool isoverify, each property a rule,
each record a result.

SARIF speaks of code; a container is no file, so each result's location is logical: the
target (kind "container", "process" or "pod") and the node it ran on (kind "node"); none of
SARIF's suggested kinds names either.

Verdicts map to a result's kind and level as SARIF 2.1.0 §3.27.9-10 define them:
- pass: kind "pass" (evaluated, no problem found), level "none", as any kind but "fail" must;
- fail: kind "fail", its level from the property's severity (high: error, medium: warning,
  low and info: note);
- advisory: kind "fail", level "note". The property was judged and does not hold, so it is a
  failure; the profile does not enforce it, which is what "note" says (a minor problem or an
  opportunity to improve). "review" would say the tool could not decide, which is not so;
- waived: kind "fail" at its severity's level, with an external suppression, accepted, its
  justification the waiver's reason: a suppressed result is what a waiver is;
- error: kind "open" (evaluated, too little information to decide): the target could not be
  observed.

Message text is plain text: braces are doubled and a bracket that would end a link's text
escaped, as §3.11.5-6 ask, so that nothing a target said reads as a placeholder or an embedded link.
"""

import json
import re
from pathlib import Path

from isoverify.judge.guidance import RUNTIMES
from isoverify.judge.words import ADVISORY, ERROR, FAIL, PASS, WAIVED
from isoverify.report import subjects

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"high": "error", "medium": "warning", "low": "note", "info": "note"}
DEFAULT_LEVEL = "warning"  # a check of your own that gives no severity: SARIF's own default
KINDS = {PASS: "pass", FAIL: "fail", ADVISORY: "fail", WAIVED: "fail", ERROR: "open"}


def text(words: str, limit: int = subjects.TEXT_CHARS) -> dict:
    """A SARIF message of plain text: bounded, braces doubled, and a `](` that would close an
    embedded link's text escaped (`\\]`, with any backslash before it doubled); other square
    brackets are literal in plain text and stay as they are."""
    plain = re.sub(r"(\\*)\](?=\()", lambda m: m[1] * 2 + "\\]", subjects.bounded_line(words, limit))
    return {"text": plain.replace("{", "{{").replace("}", "}}") or "-"}


def _help(record: dict) -> str:
    remediation = record.get("remediation") or {}
    fixes = "\n".join(f"- {RUNTIMES.get(runtime, runtime)}: {how}"
                      for runtime, how in remediation.items() if runtime != "action")
    parts = [record.get("rationale") or "", f"What to change: {remediation['action']}" if remediation else "", fixes]
    return "\n\n".join(part for part in parts if part) or record["title"]


def rule(record: dict) -> dict:
    """A property as a reportingDescriptor, from the first record of it."""
    return {
        "id": record["property"], "name": record["property"], "shortDescription": {"text": record["title"]},
        "help": {"text": _help(record)},
        "defaultConfiguration": {"level": LEVELS.get(record.get("severity") or "", DEFAULT_LEVEL)},
        "properties": {"controls": record["controls"], "category": subjects.category(record),
                       **({"severity": record["severity"]} if record.get("severity") else {})},
    }


def _level(record: dict) -> str:
    if KINDS[record["verdict"]] != "fail":
        return "none"
    if record["verdict"] == ADVISORY:
        return "note"
    return LEVELS.get(record.get("severity") or "", DEFAULT_LEVEL)


def _location(record: dict, hosts: list[dict]) -> dict:
    pod = subjects.pod(record)
    target = {"name": pod["container"] if pod else record["target"], "fullyQualifiedName": record["target"],
              "kind": "pod" if pod else subjects.kind(record).lower()}
    host = subjects.host(record, hosts)
    node = ([{"name": host.get("hostname") or host["host"], "fullyQualifiedName": host["host"], "kind": "node"}]
            if host is not None else [])
    return {"logicalLocations": [target, *node]}


def result(record: dict, rule_index: int, hosts: list[dict]) -> dict:
    found: dict = {
        "ruleId": record["property"], "ruleIndex": rule_index, "kind": KINDS[record["verdict"]],
        "level": _level(record), "message": text(record["summary"]), "locations": [_location(record, hosts)],
        "properties": {"verdict": record["verdict"], "enforced": record["enforced"], "target": record["target"],
                       "findings": record.get("findings", []),
                       **({"pod": record["pod"]} if subjects.pod(record) else {})},
    }
    waiver = record.get("waiver")
    if record["verdict"] == WAIVED and waiver:
        found["suppressions"] = [{
            "kind": "external", "status": "accepted", "justification": subjects.bounded_line(waiver["reason"]),
            "properties": {"owner": waiver["owner"], "expires": str(waiver["expires"]), "line": waiver["line"]}}]
    return found


def document(records: list[dict], meta: dict) -> dict:
    """The SARIF log of one run."""
    rules: dict[str, int] = {}
    descriptors: list[dict] = []
    for record in records:
        if record["property"] not in rules:
            rules[record["property"]] = len(descriptors)
            descriptors.append(rule(record))
    return {
        "$schema": SCHEMA_URI, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "isoverify", "version": meta["isoverify"], "rules": descriptors}},
            "invocations": [{
                # a target that could not be observed leaves the run short of what it set out to judge
                "executionSuccessful": not any(r["verdict"] == ERROR for r in records),
                "commandLine": meta["command"], "startTimeUtc": meta["started"],
                "properties": {"profile": meta["profile"], "by": meta["by"]}}],
            "results": [result(record, rules[record["property"]], meta["hosts"]) for record in records],
            "properties": {"profile": meta["profile"]},
        }],
    }


def write(path: Path, records: list[dict], meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document(records, meta), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
