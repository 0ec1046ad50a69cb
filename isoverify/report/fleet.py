"""Many runs' results as one fleet's: each node's newest measurement, the nodes that were not
measured said so as errors (never left out, never passing), and where nodes disagree.

Pure functions of the documents the runs wrote (`--iso-json`, results.schema.json); reading
the files and writing the reports is the front end's (isoverify/merge.py).
"""

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from isoverify.report.html import natural

NOT_MEASURED = "measured"  # the property of a node whose results are not in the merge
# A pod's generated name: a ReplicaSet's hash and the pod's own, or a DaemonSet's or Job's
# suffix, or a StatefulSet's ordinal. What is left names the template its pods come from.
_GENERATED = re.compile(r"(-[a-z0-9]{6,10})?-[a-z0-9]{5}$|-[0-9]+$")
_CRI_TARGET = re.compile(r"cri://(?P<namespace>[^/]*)/(?P<pod>[^/]*)/(?P<container>[^ ]*)")


@dataclass(frozen=True)
class Measurement:
    """One run's results for one node, as its document says."""

    node: str
    started: datetime
    source: str  # the file it came from, as given
    host: dict
    run: str | None
    records: list[dict]


def measurements(document: dict, source: str) -> list[Measurement]:
    """The nodes one run measured: one per host it names, its records those of that host
    (a run of several hosts prefixes each target with its host: the node's name stands in)."""
    hosts = document["hosts"]
    started = parse_time(document["started"])
    found = []
    for host in hosts:
        node = host.get("hostname") or host["host"]
        prefix = f"{host['host']} "
        records = (document["results"] if len(hosts) == 1 else
                   [{**r, "target": r["target"][len(prefix):]} for r in document["results"]
                    if r["target"].startswith(prefix)])
        found.append(Measurement(node, started, source, host, document.get("run"), records))
    return found


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} names no time zone")
    return moment


def parse_age(text: str) -> timedelta:
    """90s, 30m, 12h, 2d."""
    found = re.fullmatch(r"([1-9][0-9]{0,6})([smhd])", text)
    if not found:
        raise ValueError(f"--max-age {text!r}: write a number and s, m, h or d (e.g. 2h)")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[found.group(2)]
    return timedelta(**{unit: int(found.group(1))})


def not_measured(node: str, why: str) -> dict:
    """A node whose results are not in the merge: an error of its own, in every report."""
    return {"target": f"{node}: (not measured)", "node": node, "engine": "node", "property": NOT_MEASURED,
            "title": "The node's results are in the merge", "verdict": "error", "enforced": True,
            "summary": f"not measured: {why}", "controls": [], "findings": [], "waiver": None,
            "evidence": {"host": [], "container": []}}


def merge(found: list[Measurement], *, now: datetime, max_age: timedelta | None = None,
          run: str | None = None, expected: tuple[str, ...] = ()) -> tuple[list[dict], dict]:
    """The fleet's records (each target named by its node) and what the page's fleet summary
    says: every node measured or not, and why not; where nodes disagree."""
    newest: dict[str, Measurement] = {}
    superseded = []
    for one in sorted(found, key=lambda m: m.started):
        if one.node in newest:
            superseded.append(newest[one.node].source)
        newest[one.node] = one
    records, nodes = [], []
    for node in sorted({*newest, *expected}, key=natural):
        measurement = newest.get(node)
        why = _why_not_measured(measurement, now, max_age, run)
        if measurement is None or why:
            records.append(not_measured(node, why or "no results from it were given"))
            nodes.append({"node": node, "measured": False, "why": why or "no results from it were given"})
            continue
        records += [{**record, "node": node, "target": f"{node}: {record['target']}"}
                    for record in measurement.records]
        nodes.append({"node": node, "measured": True, "started": measurement.started.isoformat(),
                      "source": measurement.source, "kernel": measurement.host.get("kernel", "?"),
                      "runtime": measurement.host.get("runtime", "?"),
                      "targets": len({record["target"] for record in measurement.records})})
    fleet = {"nodes": nodes, "superseded": superseded, "divergence": divergence(records),
             "versions": versions(nodes)}
    return records, fleet


def _why_not_measured(measurement: Measurement | None, now: datetime, max_age: timedelta | None,
                      run: str | None) -> str:
    if measurement is None:
        return ""
    if run is not None and measurement.run != run:
        return f"its results ({measurement.source}) are of another run ({measurement.run or 'none named'})"
    if max_age is not None and now - measurement.started > max_age:
        return f"its results ({measurement.source}) are from {measurement.started.isoformat()}, older than {max_age}"
    if not measurement.records:
        return f"its run ({measurement.source}) judged nothing"
    return ""


def template(target: str) -> str:
    """What the pods of one template, or the containers of one name, share on every node."""
    found = _CRI_TARGET.search(target)
    if found:
        return f"cri://{found['namespace']}/{_GENERATED.sub('', found['pod'])}/{found['container']}"
    return target.split(": ", 1)[-1].split(" (")[0]


def divergence(records: list[dict]) -> list[dict]:
    """Each template and property judged differently on two nodes or more."""
    verdicts: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for record in records:
        if record["property"] != NOT_MEASURED:
            verdicts[(template(record["target"]), record["property"])][record["verdict"]].add(record["node"])
    return [{"template": key[0], "property": key[1],
             "verdicts": {verdict: sorted(nodes, key=natural) for verdict, nodes in sorted(by_verdict.items())}}
            for key, by_verdict in sorted(verdicts.items()) if len(by_verdict) > 1]


def versions(nodes: list[dict]) -> dict[str, dict[str, list[str]]]:
    """Kernels and runtimes that differ between measured nodes: which nodes run which."""
    differing = {}
    for field in ("kernel", "runtime"):
        by_value: dict[str, list[str]] = defaultdict(list)
        for node in nodes:
            if node["measured"]:
                by_value[node[field]].append(node["node"])
        if len(by_value) > 1:
            differing[field] = dict(sorted(by_value.items()))
    return differing
