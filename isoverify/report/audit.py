"""Parts of the auditor's page (page.py): what changed since the last report, the targets
worst first, each framework's items with the verdicts that evidence them, the printed page's
header.

Made from the records alone (the JSON's results), so that a check of the user's own,
whatever it cites and whatever guidance it gives, has its place like the built-in ones.
Every string is escaped where it becomes markup.
"""

from collections import Counter
from html import escape

from isoverify.judge.frameworks import FRAMEWORKS
from isoverify.judge.words import FAIL, PASS, SEVERITIES, WORST_FIRST, worst
from isoverify.report.baseline import CHANGES, FIXED, NEW
from isoverify.report.html import natural, targets_of


def verdict_word(verdict: str) -> str:
    return f'<span class="iso-word iso-{escape(verdict)}">{escape(verdict.upper())}</span>'


def since_baseline(records: list[dict], comparison: dict | None) -> str:
    """Each verdict against the baseline's: the counts, every new or fixed one, what is gone."""
    if comparison is None:
        return ""
    counts = Counter(r["since_baseline"]["change"] for r in records)
    totals = ", ".join(f"{counts[c]} {c}" for c in CHANGES)
    rows = "".join(
        f'<tr class="iso-change-{escape(r["since_baseline"]["change"])}"><td>{escape(r["since_baseline"]["change"])}'
        f'</td><td>{escape(r["target"])}</td><td>{escape(r["property"])}</td>'
        f'<td>{verdict_word(r["since_baseline"]["was"]) if r["since_baseline"]["was"] else "not verified"}</td>'
        f'<td>{verdict_word(r["verdict"])}</td></tr>'
        for r in sorted(records, key=lambda r: natural(r["target"])) if r["since_baseline"]["change"] in (NEW, FIXED))
    gone = "".join(f"<li>{escape(r['property'])} on {escape(r['target'])} (was {escape(r['verdict'].upper())})</li>"
                   for r in comparison["removed"])
    return (f'<div id="iso-changes"><p>Against {escape(comparison["path"])} '
            f'(started {escape(comparison["started"] or "when not recorded")}): {escape(totals)}.</p>'
            + (f'<table class="iso-table"><tr><th>change</th><th>target</th><th>property</th><th>then</th>'
               f'<th>now</th></tr>{rows}</table>' if rows else "<p>No verdict changed.</p>")
            + (f"<p>Verified then, not in this report:</p><ul>{gone}</ul>" if gone else "") + "</div>")


def _held(group: list[dict]) -> tuple[int, int]:
    """How many of the group's enforced properties hold, of how many."""
    enforced = [r for r in group if r["enforced"]]
    return sum(r["verdict"] == PASS for r in enforced), len(enforced)


def by_target(records: list[dict]) -> dict[str, list[dict]]:
    """Each target's records, the targets in natural order."""
    grouped: dict[str, list[dict]] = {t: [] for t in targets_of(records)}
    for record in records:
        grouped[record["target"]].append(record)
    return grouped


def worst_first(by_target: dict[str, list[dict]]) -> list[str]:
    """The targets, worst first: by their worst verdict (a failure first), then the lowest
    share of enforced properties held, then the most failures; ties in natural order."""
    def rank(target: str) -> tuple:
        group = by_target[target]
        held, enforced = _held(group)
        return (WORST_FIRST.index(worst(r["verdict"] for r in group)), held / enforced if enforced else 1,
                -sum(r["verdict"] == FAIL for r in group), natural(target))
    return sorted(by_target, key=rank)


def _control_cell(evidencing: list[dict]) -> str:
    if not evidencing:
        return '<td class="iso-none">—</td>'
    combined = worst(r["verdict"] for r in evidencing)
    parts = "".join(f"<li>{escape(r['property'])} {verdict_word(r['verdict'])}</li>" for r in evidencing)
    return f'<td class="iso-{combined}"><b>{combined.upper()}</b><ul>{parts}</ul></td>'


def controls(records: list[dict], columns: list[tuple[str, str]]) -> str:
    """Each framework's items: per column (its heading, as markup, and the target it shows), the
    properties evidencing it and their verdicts (the worst decides the item's), and the items
    this run does not evidence, named so."""
    by_control: dict[str, list[dict]] = {}
    for record in records:
        for control in record["controls"]:
            by_control.setdefault(control, []).append(record)
    head = "".join(f"<th>{heading}</th>" for heading, _ in columns)

    def cells(found: list[dict]) -> str:
        return "".join(_control_cell([r for r in found if r["target"] == target]) for _, target in columns)
    sections = []
    for framework in FRAMEWORKS:
        rows, evidenced = [], 0
        for item, title in framework.items:
            found = by_control.pop(framework.control(item), [])
            evidenced += bool(found)
            control = escape(framework.control(item))
            if found:
                rows.append(f'<tr data-control="{escape(item)}" data-controls="{control}"><th>{escape(item)}</th>'
                            f"<td>{escape(title)}</td>{cells(found)}</tr>")
            else:
                rows.append(f'<tr data-control="{escape(item)}" data-controls="{control}" class="iso-not-evidenced">'
                            f'<th>{escape(item)}</th><td>{escape(title)}</td><td colspan="{len(columns)}">'
                            f"not evidenced by this suite</td></tr>")
        sections.append(
            f'<h3>{escape(framework.name)}, {escape(framework.scope)}: {evidenced} of {len(framework.items)} '
            f'items evidenced</h3><table class="iso-table iso-framework" data-framework="{escape(framework.name)}">'
            f'<colgroup><col class="iso-item"><col class="iso-asks"></colgroup>'
            f"<tr><th>item</th><th>what it asks</th>{head}</tr>{''.join(rows)}</table>")
    if by_control:  # cited, but not an item of a framework above: a check of the user's own, say
        cited = "".join(f'<tr data-control="{escape(c)}" data-controls="{escape(c)}"><th colspan="2">{escape(c)}</th>'
                        f"{cells(found)}</tr>" for c, found in by_control.items())
        sections.append(f'<h3>Other controls cited</h3><table class="iso-table iso-framework" data-framework="">'
                        f'<colgroup><col class="iso-item"><col class="iso-asks"></colgroup>'
                        f"<tr><th colspan=\"2\">control</th>{head}</tr>{cited}</table>")
    return f'<div id="iso-controls">{"".join(sections)}</div>'


def severity_rank(record: dict) -> int:
    """The most severe first; a check that gives no severity last."""
    return SEVERITIES.index(record["severity"]) if record.get("severity") in SEVERITIES else len(SEVERITIES)


def _css_string(text: str) -> str:
    """Text as a CSS string's content: everything but ASCII letters and digits escaped."""
    return "".join(c if c.isalnum() and c.isascii() else f"\\{ord(c):06x}" for c in text)


def print_header(meta: dict) -> str:
    """Each printed page names the run: when, by whom, the profile."""
    name = f"Container isolation report, {meta['started']}, {meta['by']}, profile {meta['profile']}"
    return (f'<style>@page {{ @top-center {{ content: "{_css_string(name)}"; font-size: 8pt; }} '
            f'@bottom-right {{ content: "page " counter(page) " of " counter(pages); font-size: 8pt; }} }}</style>')
