"""The auditor's page: one self-contained HTML file, in the suite's words only.

It reads top down as an audit does: what was verified, by whom and how; the fleet at a glance;
the score; each framework's items; what to fix; then every target with its evidence. Its size
grows with what does not hold, not with the containers that pass: targets whose every property
has the same verdict are shown together, a failure or an error in full with its evidence, and
the details of a pass or an advisory are kept as data in the page, turned into text only when
opened (the details of runs too large for one page are left to the JSON). Every string is
escaped where it becomes markup, the data where it enters the page's <script>.
"""

import json
import os
from collections import Counter
from html import escape
from pathlib import Path
from urllib.parse import quote

from isoverify.judge.catalogue import CATALOGUE
from isoverify.judge.words import ADVISORY, ERROR, FAIL, PASS, VERDICTS, WAIVED, WORST_FIRST, worst
from isoverify.report import audit
from isoverify.report.html import (
    change_html,
    evidence_html,
    guidance_html,
    hosts_table,
    natural,
    run_header,
    unmatched_waivers,
    waiver_html,
)

HERE = Path(__file__).parent
CSS, SCRIPT = HERE / "report.css", HERE / "report.js"
TITLE = "Container isolation report"
DETAILS_BUDGET = 1_500_000  # characters of details kept in the page; the JSON holds every one
IN_FULL = (FAIL, ERROR)  # shown with their evidence; every other verdict's details on demand


def property_order(records: list[dict]) -> list[str]:
    """The catalogue's properties in its order, then the user's own as they came."""
    found = dict.fromkeys(r["property"] for r in records)
    return [*(p.id for p in CATALOGUE if p.id in found), *(p for p in found if p not in {c.id for c in CATALOGUE})]


class Group:
    """Targets whose every property has the same verdict: one column, one row, one section."""

    def __init__(self, number: int, targets: list[str], records: list[dict]):
        self.id = f"group-{number}"
        self.targets = targets  # in natural order
        self.records = records  # the first target's, in the catalogue's order
        self.verdict = worst(r["verdict"] for r in records)

    @property
    def label(self) -> str:
        first, others = self.targets[0], len(self.targets) - 1
        return first if not others else f"{first} and {others} more alike"

    def link(self) -> str:
        return f'<a href="#{self.id}">{escape(self.label)}</a>'


def grouped(records: list[dict]) -> tuple[list[Group], dict[tuple[str, str], int]]:
    """The run's groups, in the natural order of their first targets, and each record's index
    by target and property."""
    order = {prop: n for n, prop in enumerate(property_order(records))}
    index = {(r["target"], r["property"]): n for n, r in enumerate(records)}
    by_target = audit.by_target(records)
    alike: dict[tuple, list[str]] = {}
    for target, found in by_target.items():
        found.sort(key=lambda r: order[r["property"]])
        alike.setdefault(tuple((r["property"], r["verdict"], r["enforced"]) for r in found), []).append(target)
    groups = [Group(n, targets, by_target[targets[0]]) for n, targets in enumerate(alike.values(), 1)]
    return groups, index


def worst_first(groups: list[Group]) -> list[Group]:
    """The groups as audit.worst_first ranks their first targets."""
    first = {g.targets[0]: g for g in groups}
    return [first[t] for t in audit.worst_first({t: g.records for t, g in first.items()})]


def _attributes(verdict: str = "", targets: tuple[str, ...] = (), groups: tuple[str, ...] = (),
                controls: tuple[str, ...] = ()) -> str:
    """What the filters read: the verdict, the targets or groups, the controls (one a line)."""
    pairs = (("verdict", verdict), ("targets", "\n".join(targets)), ("groups", " ".join(groups)),
             ("controls", "\n".join(controls)))
    return "".join(f' data-{name}="{escape(value)}"' for name, value in pairs if value)


def heading(records: list[dict], meta: dict, groups: list[Group]) -> str:
    """What was verified, in one sentence."""
    hosts = len(meta.get("hosts", []))
    targets = sum(len(g.targets) for g in groups)
    what = (f"{targets} target{'s' * (targets != 1)} on {hosts} host{'s' * (hosts != 1)}, "
            f"{len(property_order(records))} isolation properties each, judged from what the kernel shows on the "
            f"host, under the {meta.get('profile', '')} profile.")
    return f'<header><h1>{TITLE}</h1><p id="iso-what">{escape(what)}</p></header>'


def the_run(meta: dict) -> str:
    """By whom, when, with which command as typed, under which profile, on which hosts."""
    run = {key: meta[key] for key in ("started", "by", "command", "isoverify", "profile") if key in meta}
    return run_header(run) + hosts_table(meta.get("hosts", []))


def contents(parts: list[tuple[str, str, str]]) -> str:
    """The table of contents: a link to each part on the page."""
    items = "".join(f'<li><a href="#{anchor}">{escape(title)}</a></li>' for anchor, title, _ in parts)
    return f'<nav id="iso-contents"><h2>Contents</h2><ol>{items}</ol></nav>'


def summary(records: list[dict], groups: list[Group]) -> str:
    """The fleet first: how many targets hold every enforced property, how many verdicts of each kind."""
    targets = [t for g in groups for t in g.targets]
    holding = sum(len(g.targets) for g in groups
                  if all(r["verdict"] == PASS for r in g.records if r["enforced"]))
    counts = Counter(r["verdict"] for r in records)
    failing = len({r["target"] for r in records if r["verdict"] == FAIL})
    cells = [("targets", len(targets), ""), ("hold every enforced property", holding, PASS if holding == len(targets)
                                                                                      else FAIL)]
    cells += [(f"{word} verdicts" if word != PASS else "passes", counts[word], word if counts[word] else "")
              for word in (FAIL, ERROR, WAIVED, ADVISORY, PASS)]
    boxes = "".join(f'<div class="iso-stat {f"iso-box-{kind}" if kind else ""}"><b>{count}</b>{escape(label)}</div>'
                    for label, count, kind in cells)
    verdict = ("Every enforced property holds on every target." if holding == len(targets) else
               f"{len(targets) - holding} of {len(targets)} targets do not hold every enforced property"
               + (f"; {failing} fail one or more." if failing else "."))
    return f'<div id="iso-summary" class="iso-stats">{boxes}</div><p id="iso-verdict">{escape(verdict)}</p>'


def nodes(fleet: dict) -> str:
    """A merge's nodes: each measured or not and why, what they run, and where they disagree."""
    rows = "".join(
        f"<tr{_attributes(PASS if n['measured'] else ERROR)}><th>{escape(n['node'])}</th>"
        + (f"<td>measured</td><td>{escape(n['started'])}</td><td>{n['targets']}</td><td>{escape(n['kernel'])}</td>"
           f"<td>{escape(n['runtime'])}</td>" if n["measured"] else
           f'<td>{audit.verdict_word(ERROR)} not measured</td><td colspan="4">{escape(n["why"])}</td>')
        + "</tr>" for n in fleet["nodes"])
    measured = sum(n["measured"] for n in fleet["nodes"])
    parts = [f"<p>{measured} of {len(fleet['nodes'])} nodes measured; a node not measured is an error of its own "
             "in every report.</p>",
             '<table id="iso-nodes" class="iso-table"><tr><th>node</th><th>measured</th><th>results of</th>'
             f"<th>targets</th><th>kernel</th><th>runtime</th></tr>{rows}</table>"]
    for field, by_value in fleet["versions"].items():
        parts.append(f"<p>Nodes run different {field}s: " + "; ".join(
            f"{escape(value)} on {escape(', '.join(names))}" for value, names in by_value.items()) + ".</p>")
    if fleet["divergence"]:
        items = "".join(f"<li>{escape(d['property'])} of {escape(d['template'])}: " + "; ".join(
            f"{audit.verdict_word(verdict)} on {escape(', '.join(names))}" for verdict, names in d["verdicts"].items())
            + "</li>" for d in fleet["divergence"])
        parts.append(f'<h3>Judged differently on different nodes</h3><ul id="iso-divergence">{items}</ul>')
    if fleet["superseded"]:
        parts.append(f"<p>Replaced by newer results of the same node: {escape(', '.join(fleet['superseded']))}.</p>")
    return "".join(parts)


def score(groups: list[Group], records: list[dict]) -> str:
    """Enforced properties held, per group of targets alike, worst first, and overall."""
    def row(name: str, group_records: list[dict], attributes: str, times: int = 1) -> str:
        enforced = [r for r in group_records if r["enforced"]]
        held = sum(r["verdict"] == PASS for r in enforced)
        share = f"{100 * held // len(enforced)}%" if enforced else "nothing enforced"
        counts = Counter(r["verdict"] for r in group_records)
        return (f"<tr{attributes}><th>{name}</th><td><b>{held} of {len(enforced)}</b></td><td>{share}</td>"
                + "".join(f"<td>{counts[v] * times}</td>" for v in VERDICTS) + "</tr>")
    head = "".join(f'<th class="iso-{v}">{v.upper()}</th>' for v in VERDICTS)
    rows = "".join(row(g.link(), g.records, _attributes(g.verdict, groups=(g.id,)), len(g.targets))
                   for g in worst_first(groups))
    note = "<p>Targets alike (the same verdict on every property) share a row; counts are theirs together.</p>"
    return (f'{note}<table id="iso-score" class="iso-table"><colgroup><col class="iso-wide"></colgroup>'
            f"<tr><th>targets</th><th>enforced properties held (each)</th><th>score</th>{head}</tr>{rows}"
            f'{row("overall", records, "")}</table>')


def controls(records: list[dict], groups: list[Group]) -> str:
    """Each framework's items, one column per group of targets alike."""
    representatives = {g.records[0]["target"] for g in groups}
    columns = [(g.link(), g.records[0]["target"]) for g in groups]
    return audit.controls([r for r in records if r["target"] in representatives], columns)


def _card(record: dict, number: int, evidence: str) -> str:
    verdict = record["verdict"]
    return (f'<article class="iso-card iso-card-{escape(verdict)}" id="r{number}"'
            f'{_attributes(verdict, targets=(record["target"],), controls=tuple(record["controls"]))}'
            f' data-target="{escape(record["target"])}" data-property="{escape(record["property"])}">'
            f'<h4>{audit.verdict_word(verdict)} {escape(record["property"])} on {escape(record["target"])}: '
            f'{escape(record["title"])}</h4><div class="iso-summary">{escape(record["summary"])}</div>'
            f'{waiver_html(record.get("waiver"))}{change_html(record)}'
            f'<div class="iso-controls">{escape(", ".join(record["controls"]))}</div>'
            f'{guidance_html(record) if verdict != ERROR else ""}{evidence}</article>')


def evidence_sides(record: dict) -> str:
    return (f'<div class="iso-sides"><div><b>On the host</b>{evidence_html(record["evidence"]["host"])}</div>'
            f'<div><b>The container</b>{evidence_html(record["evidence"]["container"])}</div></div>')


def on_demand(numbers: list[int], label: str) -> str:
    """A fold whose content the page's script makes from its data when it is opened."""
    return (f'<details class="iso-more" data-records="{" ".join(map(str, numbers))}"><summary>{escape(label)}'
            f"</summary></details>")


def to_fix(records: list[dict], groups: list[Group], index: dict) -> str:
    """Failures in full, then waived failures, then advisories by property, then what could not
    be judged: the most severe first, targets in natural order."""
    def ranked(verdict: str) -> list[dict]:
        return sorted((r for r in records if r["verdict"] == verdict),
                      key=lambda r: (audit.severity_rank(r), natural(r["target"])))
    def number(r: dict) -> int:
        return index[(r["target"], r["property"])]
    failures = "".join(_card(r, number(r), evidence_sides(r)) for r in ranked(FAIL))
    waived = "".join(_card(r, number(r), on_demand([number(r)], "its evidence")) for r in ranked(WAIVED))
    errors = "".join(_card(r, number(r), evidence_sides(r)) for r in ranked(ERROR))
    advisories = []
    advisory = {r["property"]: r for r in records if r["verdict"] == ADVISORY}  # one of each property's
    for prop in sorted(property_order(list(advisory.values())), key=lambda p: audit.severity_rank(advisory[p])):
        having = [g for g in groups if any(r["property"] == prop and r["verdict"] == ADVISORY for r in g.records)]
        first = advisory[prop]
        count = sum(len(g.targets) for g in having)
        on = f"every one of the {count} targets" if having == groups else f"{count} target{'s' * (count != 1)}"
        numbers = [number({"target": t, "property": prop}) for g in having for t in g.targets]
        where = ", ".join(g.link() for g in having)
        advisories.append(
            f'<article class="iso-card iso-card-advisory"'
            f'{_attributes(ADVISORY, groups=tuple(g.id for g in having), controls=tuple(first["controls"]))}>'
            f'<h4>{audit.verdict_word(ADVISORY)} {escape(prop)}: {escape(first["title"])}</h4>'
            f'<div class="iso-summary">Does not hold on {on}, which the profile does not enforce: {where}.</div>'
            f'<div class="iso-controls">{escape(", ".join(first["controls"]))}</div>{guidance_html(first)}'
            f'{on_demand(numbers, "each target: what it showed")}</article>')
    parts = [("Failures", "iso-fix-fail", failures), ("Waived failures", "iso-fix-waived", waived),
             ("Advisories (not enforced by the profile)", "iso-fix-advisory", "".join(advisories)),
             ("Not judged (ERROR)", "iso-errors", errors)]
    shown = "".join(f'<h3 id="{anchor}">{title}</h3>{cards}' for title, anchor, cards in parts if cards)
    return shown or "<p>Every property holds on every target.</p>"


def targets(groups: list[Group], index: dict) -> str:
    """Every target, alike ones together: each property's verdict, the details of what holds
    on demand, what does not linked to its card above."""
    sections = []
    for group in groups:
        rows = []
        for record in group.records:
            verdict, prop = record["verdict"], record["property"]
            numbers = [index[(t, prop)] for t in group.targets]
            if verdict in IN_FULL or verdict == WAIVED:
                detail = "in What to fix: " + ", ".join(f'<a href="#r{n}">{escape(t)}</a>'
                                                         for n, t in zip(numbers, group.targets))
            else:
                many = f" on {len(group.targets)} targets" if len(group.targets) > 1 else ""
                detail = on_demand(numbers, f"{'passes' if verdict == PASS else 'advisory'}{many}: what it showed")
            rows.append(f"<tr{_attributes(verdict, controls=tuple(record['controls']))}><th>{escape(prop)}</th>"
                        f"<td>{escape(record['title'])}</td><td>{audit.verdict_word(verdict)}</td><td>{detail}</td></tr>")
        names = (f'<p class="iso-names">{", ".join(escape(t) for t in group.targets)}</p>'
                 if len(group.targets) > 1 else "")
        sections.append(
            f'<section class="iso-group" id="{group.id}"{_attributes(targets=tuple(group.targets))}>'
            f"<h3>{escape(group.label)}</h3>{names}"
            f'<table class="iso-table iso-verdicts"><colgroup><col class="iso-prop"><col><col class="iso-word-col">'
            f"<col></colgroup><tr><th>property</th><th>what it asks</th><th>verdict</th><th>details</th></tr>"
            f"{''.join(rows)}</table></section>")
    on_paper = ('<p class="iso-on-paper">On paper, the details of passes, advisories and waived failures are '
                "those opened on the page before it was printed; every one is in the JSON results.</p>")
    return on_paper + "".join(sections)


def details_data(records: list[dict], groups: list[Group]) -> dict[str, dict]:
    """The details the page opens on demand, by record: each group's first target's first,
    then the others in natural order, while they fit the page's budget."""
    first = {g.targets[0] for g in groups}
    order = sorted(range(len(records)),
                   key=lambda n: (records[n]["target"] not in first, natural(records[n]["target"])))
    kept, size = {}, 0
    for n in order:
        record = records[n]
        if record["verdict"] in IN_FULL:
            continue
        detail = {"target": record["target"], "summary": record["summary"], "evidence": record["evidence"]}
        size += len(json.dumps(detail, ensure_ascii=False))
        if size > DETAILS_BUDGET:
            break
        kept[str(n)] = detail
    return kept


def script_json(data: object) -> str:
    """JSON that no string can end the <script> holding it early: <, > and & as JSON escapes."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def filters(records: list[dict]) -> str:
    """Offline filters: by verdict, by target (any part of its name), by control."""
    boxes = "".join(f'<label><input type="checkbox" value="{v}" checked> {audit.verdict_word(v)}</label>'
                    for v in WORST_FIRST)
    cited = sorted({c for r in records for c in r["controls"]}, key=natural)
    options = "".join(f'<option value="{escape(c)}">{escape(c)}</option>' for c in cited)
    return (f'<form id="iso-filters" onsubmit="return false"><b>Show</b> {boxes} '
            f'<label>target <input type="search" id="iso-filter-target" placeholder="any part of its name"></label> '
            f'<label>control <select id="iso-filter-control"><option value="">any</option>{options}</select></label>'
            f"</form>")


def files(path: Path, companions: dict[str, Path]) -> str:
    """The run's other files, for whom each is, linked from where this page is."""
    if not companions:
        return ""
    items = "".join(f'<li><a href="{escape(quote(Path(os.path.relpath(where, path.parent)).as_posix()))}">'
                    f"{escape(where.name)}</a>: {escape(whom)}</li>" for whom, where in companions.items())
    return f'<section id="iso-files"><h2>The run\'s other files</h2><ul>{items}</ul></section>'


def write(path: Path, records: list[dict], meta: dict, companions: dict[str, Path] | None = None) -> None:
    """The page, from the records and the run's description as the JSON holds them; `companions`:
    the run's other files, by what each is for, linked from the page."""
    groups, index = grouped(records)
    comparison = meta.get("baseline")
    parts = [("iso-summary-part", "Summary", summary(records, groups)),
             *([("iso-nodes-part", "Nodes", nodes(meta["fleet"]))] if "fleet" in meta else []),
             ("iso-run-part", "The run: when, by whom, how, where", the_run(meta)),
             *([("iso-changes-part", "Since the last report", audit.since_baseline(records, comparison))]
               if comparison else []),
             ("iso-score-part", "Score, worst first", score(groups, records)),
             ("iso-controls-part", "By control", controls(records, groups)),
             ("iso-fix", "What to fix", to_fix(records, groups, index)),
             ("iso-targets-part", "Targets, with their evidence", targets(groups, index)),
             *([("iso-unmatched-part", "Waivers that matched nothing", unmatched_waivers(meta["unmatched_waivers"]))]
               if meta.get("unmatched_waivers") else [])]
    body = [f'<section id="{anchor}"><h2>{escape(title)}</h2>{content}</section>' for anchor, title, content in parts]
    kept = details_data(records, groups)
    missing = sum(r["verdict"] not in IN_FULL for r in records) - len(kept)
    note = (f'<p class="iso-note">The details of {missing} verdicts that are passes, advisories or waived '
            f"failures are not on this page, which keeps it small: every verdict with its evidence is in the JSON "
            f"results.</p>" if missing else "")
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{TITLE}, '
            f'{escape(str(meta.get("started", "")))}</title><style>{CSS.read_text()}</style>{audit.print_header(meta)}'
            f"</head><body>{heading(records, meta, groups)}{body[0]}{contents(parts)}{body[1]}{filters(records)}"
            f"{''.join(body[2:])}{note}"
            f'{files(path, companions or {})}<script type="application/json" id="iso-data">{script_json(kept)}'
            f"</script><script>{SCRIPT.read_text()}</script></body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
