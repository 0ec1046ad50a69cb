"""The auditor's view, first in the HTML report: what changed since the last report, the
score, each framework's items with the verdicts that evidence them, and what to fix.

Made from the records alone (the JSON's results), so that a check of the user's own,
whatever it cites and whatever guidance it gives, has its place like the built-in ones.
Every string is escaped where it becomes markup (see report.py).
"""

from collections import Counter
from html import escape

from isoverify.judge.frameworks import FRAMEWORKS
from isoverify.judge.words import ADVISORY, ERROR, FAIL, PASS, SEVERITIES, VERDICTS, WAIVED, WORST_FIRST, worst
from isoverify.report.baseline import CHANGES, FIXED, NEW
from isoverify.report.html import change_html, evidence_html, guidance_html, natural, targets_of, waiver_html

# The heading over pytest-html's own table, below the auditor's view.
ENGINEERS_TABLE = ('<h2 id="iso-all-results">Every result, with its evidence</h2>'
                   "<p>One row per property on one target; click a row to fold its details.</p>")
TO_FIX = (FAIL, WAIVED, ADVISORY)  # what does not hold, in the order "What to fix" lists it


def _verdict(verdict: str) -> str:
    return f'<span class="iso-{escape(verdict)}">{escape(verdict.upper())}</span>'


def since_baseline(records: list[dict], comparison: dict | None) -> str:
    """Each verdict against the baseline's: the counts, every new or fixed one, what is gone."""
    if comparison is None:
        return ""
    counts = Counter(r["since_baseline"]["change"] for r in records)
    totals = ", ".join(f"{counts[c]} {c}" for c in CHANGES)
    rows = "".join(
        f'<tr class="iso-change-{escape(r["since_baseline"]["change"])}"><td>{escape(r["since_baseline"]["change"])}'
        f'</td><td>{escape(r["target"])}</td><td>{escape(r["property"])}</td>'
        f'<td>{_verdict(r["since_baseline"]["was"]) if r["since_baseline"]["was"] else "not verified"}</td>'
        f'<td>{_verdict(r["verdict"])}</td></tr>'
        for r in sorted(records, key=lambda r: natural(r["target"])) if r["since_baseline"]["change"] in (NEW, FIXED))
    gone = "".join(f"<li>{escape(r['property'])} on {escape(r['target'])} (was {escape(r['verdict'].upper())})</li>"
                   for r in comparison["removed"])
    return (f'<h2>Since the last report</h2><div id="iso-changes"><p>Against {escape(comparison["path"])} '
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


def score(records: list[dict]) -> str:
    """Enforced properties held, per target, worst first, and overall: waived and advisory ones
    are not held."""
    def row(name: str, group: list[dict]) -> str:
        held, enforced = _held(group)
        share = f"{100 * held // enforced}%" if enforced else "nothing enforced"
        counts = Counter(r["verdict"] for r in group)
        return (f'<tr data-target="{escape(name)}"><th>{escape(name)}</th><td><b>{held} of {enforced}</b></td>'
                f"<td>{share}</td>" + "".join(f"<td>{counts[v]}</td>" for v in VERDICTS) + "</tr>")
    head = "".join(f'<th class="iso-{v}">{v.upper()}</th>' for v in VERDICTS)
    grouped = by_target(records)
    rows = "".join(row(target, grouped[target]) for target in worst_first(grouped))
    return (f'<h2>Score</h2><table id="iso-score" class="iso-table"><tr><th>target</th>'
            f"<th>enforced properties held</th><th>score</th>{head}</tr>{rows}"
            f'{row("overall", records)}</table>')


def _control_cell(evidencing: list[dict]) -> str:
    if not evidencing:
        return '<td class="iso-none">—</td>'
    combined = worst(r["verdict"] for r in evidencing)
    parts = "".join(f"<li>{escape(r['property'])} {_verdict(r['verdict'])}</li>" for r in evidencing)
    return f'<td class="iso-{combined}"><b>{combined.upper()}</b><ul>{parts}</ul></td>'


def controls(records: list[dict]) -> str:
    """Each framework's items: per target, the properties evidencing it and their verdicts (the
    worst decides the item's), and the items this run does not evidence, named so."""
    targets = targets_of(records)
    by_control: dict[str, list[dict]] = {}
    for record in records:
        for control in record["controls"]:
            by_control.setdefault(control, []).append(record)
    head = "".join(f"<th>{escape(t)}</th>" for t in targets)
    sections = []
    for framework in FRAMEWORKS:
        rows, evidenced = [], 0
        for item, title in framework.items:
            found = by_control.pop(framework.control(item), [])
            evidenced += bool(found)
            if found:
                cells = "".join(_control_cell([r for r in found if r["target"] == t]) for t in targets)
                rows.append(f'<tr data-control="{escape(item)}"><th>{escape(item)}</th><td>{escape(title)}</td>'
                            f"{cells}</tr>")
            else:
                rows.append(f'<tr data-control="{escape(item)}" class="iso-not-evidenced"><th>{escape(item)}</th>'
                            f'<td>{escape(title)}</td><td colspan="{len(targets)}">not evidenced by this '
                            f"suite</td></tr>")
        sections.append(
            f'<h3>{escape(framework.name)}, {escape(framework.scope)}: {evidenced} of {len(framework.items)} '
            f'items evidenced</h3><table class="iso-table iso-framework" data-framework="{escape(framework.name)}">'
            f"<tr><th>item</th><th>what it asks</th>{head}</tr>{''.join(rows)}</table>")
    if by_control:  # cited, but not an item of a framework above: a check of the user's own, say
        cited = "".join(f'<tr data-control="{escape(c)}"><th colspan="2">{escape(c)}</th>'
                       + "".join(_control_cell([r for r in found if r["target"] == t]) for t in targets) + "</tr>"
                       for c, found in by_control.items())
        sections.append(f'<h3>Other controls cited</h3><table class="iso-table iso-framework" data-framework="">'
                        f"<tr><th colspan=\"2\">control</th>{head}</tr>{cited}</table>")
    return f'<h2>By control</h2><div id="iso-controls">{"".join(sections)}</div>'


def _severity_rank(record: dict) -> int:
    return SEVERITIES.index(record["severity"]) if record.get("severity") in SEVERITIES else len(SEVERITIES)


def to_fix(records: list[dict]) -> str:
    """Every verdict that does not hold — failures, then waived, then advisory, the most severe
    first — with why it matters, what to change, and its evidence; then what could not be judged."""
    broken = sorted((r for r in records if r["verdict"] in TO_FIX),
                    key=lambda r: (TO_FIX.index(r["verdict"]), _severity_rank(r), natural(r["target"])))
    blocks = "".join(
        f'<div class="iso-failure" data-target="{escape(r["target"])}" data-property="{escape(r["property"])}">'
        f'<h3>{_verdict(r["verdict"])} {escape(r["property"])} on {escape(r["target"])}: {escape(r["title"])}</h3>'
        f'<div class="iso-summary">{escape(r["summary"])}</div>{waiver_html(r.get("waiver"))}{change_html(r)}'
        f'<div class="iso-controls">{escape(", ".join(r["controls"]))}</div>{guidance_html(r)}'
        f'<div class="iso-failure-evidence"><div><b>On the host</b>{evidence_html(r["evidence"]["host"])}</div>'
        f'<div><b>The container</b>{evidence_html(r["evidence"]["container"])}</div></div></div>'
        for r in broken)
    errors = "".join(f"<li>{escape(r['property'])} on {escape(r['target'])}: {escape(r['summary'])}</li>"
                     for r in sorted(records, key=lambda r: natural(r["target"])) if r["verdict"] == ERROR)
    return ('<h2>What to fix</h2><div id="iso-fix">'
            + (blocks or "<p>Every property holds on every target.</p>")
            + (f'<h3>Not judged (ERROR)</h3><ul id="iso-errors">{errors}</ul>' if errors else "") + "</div>")


def _css_string(text: str) -> str:
    """Text as a CSS string's content: everything but ASCII letters and digits escaped."""
    return "".join(c if c.isalnum() and c.isascii() else f"\\{ord(c):06x}" for c in text)


def print_header(meta: dict) -> str:
    """Each printed page names the run: when, by whom, the profile."""
    name = f"Container isolation report, {meta['started']}, {meta['by']}, profile {meta['profile']}"
    return (f'<style>@page {{ @top-center {{ content: "{_css_string(name)}"; font-size: 8pt; }} '
            f'@bottom-right {{ content: "page " counter(page) " of " counter(pages); font-size: 8pt; }} }}</style>')
