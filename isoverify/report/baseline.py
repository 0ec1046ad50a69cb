"""Changes since a previous run: each verdict new, fixed or unchanged against an earlier
isolation.json.

A verdict is keyed by its target and property. Against the baseline it is
*unchanged* when the baseline gave the same verdict, *fixed* when it passes
now and did not then, and *new* otherwise: a verdict the baseline did not
have, for a target or property it did not verify or one that changed for any
other reason (it is shown with what it was). What the baseline verified and
this run did not is listed as removed. The gate does not look at any of this.
"""

import json
from pathlib import Path

from isoverify.judge.words import PASS, VERDICTS

NEW, FIXED, UNCHANGED = "new", "fixed", "unchanged"
CHANGES = (NEW, FIXED, UNCHANGED)  # in the order reports show them


class BaselineError(Exception):
    """The baseline file cannot be used: a usage error naming it."""


def load(path: Path) -> dict:
    """The earlier run: when it started, and its verdict for each (target, property)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BaselineError(f"--iso-baseline {path}: cannot read it as JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("schema") != "isoverify.results" \
            or document.get("version") != 1 or not isinstance(document.get("results"), list):
        raise BaselineError(f"--iso-baseline {path}: not isoverify's results, version 1 (an isolation.json)")
    verdicts = {}
    for record in document["results"]:
        key = (record.get("target"), record.get("property")) if isinstance(record, dict) else None
        if key is None or not all(isinstance(part, str) for part in key) \
                or record.get("verdict") not in VERDICTS:
            raise BaselineError(f"--iso-baseline {path}: a result without a target, a property and a verdict")
        verdicts[key] = record["verdict"]
    return {"path": str(path), "started": str(document.get("started", "")), "verdicts": verdicts}


def change(verdict: str, was: str | None) -> str:
    if verdict == was:
        return UNCHANGED
    return FIXED if verdict == PASS and was is not None else NEW


def mark(records: list[dict], baseline: dict) -> list[dict]:
    """Each record with `since_baseline`: its change and the verdict it had then (None: none)."""
    marked = []
    for record in records:
        was = baseline["verdicts"].get((record["target"], record["property"]))
        marked.append({**record, "since_baseline": {"change": change(record["verdict"], was), "was": was}})
    return marked


def removed(records: list[dict], baseline: dict) -> list[dict]:
    """What the baseline verified that this run did not."""
    now = {(r["target"], r["property"]) for r in records}
    return [{"target": target, "property": prop, "verdict": verdict}
            for (target, prop), verdict in baseline["verdicts"].items() if (target, prop) not in now]


def summary(records: list[dict], baseline: dict) -> dict:
    """The comparison as the JSON carries it: which baseline, and what it had that is gone."""
    return {"path": baseline["path"], "started": baseline["started"], "removed": removed(records, baseline)}


def terminal_lines(records: list[dict], baseline: dict) -> list[str]:
    """The comparison in a few lines: the counts, then each verdict that is new or fixed."""
    counts = {change: sum(r["since_baseline"]["change"] == change for r in records) for change in CHANGES}
    lines = [f"since {baseline['path']} ({baseline['started'] or 'start not recorded'}): "
             + ", ".join(f"{n} {change}" for change, n in counts.items())]
    lines += [f"  {r['since_baseline']['change']}: {r['property']} on {r['target']} is {r['verdict'].upper()}"
              + (f" (was {r['since_baseline']['was'].upper()})" if r["since_baseline"]["was"] else "")
              for r in records if r["since_baseline"]["change"] != UNCHANGED]
    gone: dict[str, list[str]] = {}
    for record in removed(records, baseline):
        gone.setdefault(record["target"], []).append(record["property"])
    lines += [f"  removed: {', '.join(props)} on {target}" for target, props in gone.items()]
    return lines
