"""`isoverify merge RESULTS...`: the results of many runs (one per node, or per group of
hosts) as one fleet's reports, exiting as a run does.

RESULTS are JSON files a run wrote (--iso-json), or directories of them. Each node's newest
results count; a node named with --nodes but absent, results older than --max-age, or of a
run other than --run, make the node "not measured": an error of its own in every report.
"""

import argparse
import getpass
import json
import shlex
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

from isoverify import __version__
from isoverify.errors import UsageError
from isoverify.report import fleet, junit, page, policy_report, sarif
from isoverify.report.html import write_json

EXIT_FAILED, EXIT_USAGE, EXIT_UNOBSERVABLE = 1, 4, 6  # as a run's (cli.py lists them)


class _Parser(argparse.ArgumentParser):
    """argparse that says what is wrong in one line and lets the caller exit."""

    def error(self, message: str):
        raise UsageError(f"{message}; see isoverify merge --help")


def parser() -> argparse.ArgumentParser:
    merging = _Parser(prog="isoverify merge", description=__doc__.split("\n\n")[0])
    merging.add_argument("results", nargs="+", metavar="RESULTS", help="JSON results of runs, or directories of them")
    merging.add_argument("--nodes", default="", metavar="NAME,...",
                         help="the nodes expected: one without results is not measured")
    merging.add_argument("--max-age", default=None, metavar="AGE", help="results older than this (90s, 30m, 12h, "
                         "2d) are not measured")
    merging.add_argument("--run", default=None, metavar="ID", help="only results of the run named so (--iso-run)")
    merging.add_argument("--iso-report", default="reports/isolation.html", metavar="PATH",
                         help="the auditor's page")
    merging.add_argument("--junitxml", default="reports/isolation.xml", metavar="PATH", help="JUnit, for CI")
    merging.add_argument("--iso-json", default="reports/isolation.json", metavar="PATH",
                         help="every verdict for machines")
    merging.add_argument("--iso-oscal", default=None, metavar="PATH", help="OSCAL assessment results")
    merging.add_argument("--iso-policy-report", default=None, metavar="PATH", help="Kubernetes Policy Reports")
    merging.add_argument("--iso-sarif", default=None, metavar="PATH", help="SARIF 2.1.0")
    return merging


def result_files(given: list[str]) -> list[Path]:
    """Each file given, and the *.json of each directory given, in order; a path that is
    neither is a usage error naming it."""
    files = []
    for name in given:
        path = Path(name)
        if path.is_dir():
            found = sorted(path.glob("*.json"))
            if not found:
                raise UsageError(f"{name}: a directory with no .json results in it")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{name}: no such file or directory; give the JSON a run wrote (--iso-json)")
    return files


def read_results(path: Path) -> dict:
    """A run's results, or a usage error naming the file and what is wrong with it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot be read ({exc.__class__.__name__}: {exc.args[-1]})") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON (line {exc.lineno}); give the JSON a run wrote (--iso-json)") from exc
    if not isinstance(document, dict) or document.get("schema") != "isoverify.results":
        raise UsageError(f"{path}: not isoverify results; give the JSON a run wrote (--iso-json)")
    if document.get("version") != 1:
        raise UsageError(f"{path}: results of version {document.get('version')!r}; this isoverify reads version 1")
    for field in ("started", "hosts", "results", "profile"):
        if field not in document:
            raise UsageError(f"{path}: its results lack {field!r}; give the JSON a run wrote (--iso-json)")
    try:
        fleet.parse_time(document["started"])
    except ValueError as exc:
        raise UsageError(f"{path}: its start time {document['started']!r} is not an ISO 8601 time with a zone") from exc
    return document


def merged(args: argparse.Namespace, argv: list[str], now: datetime) -> tuple[list[dict], dict]:
    documents = [(path, read_results(path)) for path in result_files(args.results)]
    profiles = {document["profile"] for _, document in documents}
    if len(profiles) > 1:
        raise UsageError(f"the results were judged under different profiles ({', '.join(sorted(profiles))}): "
                         "merge the runs of one profile")
    try:
        max_age = fleet.parse_age(args.max_age) if args.max_age else None
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    found = [m for path, document in documents for m in fleet.measurements(document, str(path))]
    expected = tuple(name for name in args.nodes.split(",") if name)
    records, summary = fleet.merge(found, now=now, max_age=max_age, run=args.run, expected=expected)
    nodes = {m.node: m for m in found}
    meta = {
        "started": now.isoformat(),
        "by": f"{getpass.getuser()}@{socket.gethostname()}",
        "command": shlex.join(["isoverify", "merge", *argv]),
        "isoverify": __version__,
        "profile": profiles.pop(),
        "hosts": [{**nodes[node["node"]].host, "host": node["node"]} if node["measured"] else {"host": node["node"]}
                  for node in summary["nodes"]],
        "unmatched_waivers": [],
        "fleet": summary,
    }
    return records, meta


def exit_code(records: list[dict]) -> int:
    verdicts = {record["verdict"] for record in records}
    return EXIT_FAILED if "fail" in verdicts else EXIT_UNOBSERVABLE if "error" in verdicts else 0


def main(argv: list[str]) -> int:
    try:
        args = parser().parse_args(argv)
        records, meta = merged(args, argv, datetime.now(UTC))
    except UsageError as exc:
        sys.stderr.write(f"isoverify merge: {exc}\n")
        return EXIT_USAGE
    write_json(Path(args.iso_json), records, meta)
    junit.write(Path(args.junitxml), records, meta)
    page.write(Path(args.iso_report), records, meta,
               {"every verdict with its evidence, for machines (JSON)": Path(args.iso_json),
                "for CI dashboards (JUnit XML)": Path(args.junitxml)})
    if args.iso_oscal:
        from isoverify.report import oscal  # its models take a moment to load: only when asked for
        oscal.write(Path(args.iso_oscal), records, meta)
    for path, report in ((args.iso_policy_report, policy_report), (args.iso_sarif, sarif)):
        if path:
            report.write(Path(path), records, meta)
    measured = sum(node["measured"] for node in meta["fleet"]["nodes"])
    sys.stdout.write(f"isoverify merge: {measured} of {len(meta['fleet']['nodes'])} nodes measured, "
                     f"{len(records)} verdicts; reports: {args.iso_report}, {args.iso_json}, {args.junitxml}\n")
    return exit_code(records)
